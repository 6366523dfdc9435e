"""What a run creates, and how it goes away.

Certify never touches the merchant's catalogue:

* its SKUs are a fixed set named ``CERTIFY-<GROUP>-<n>`` (burst, race, fail, bulk),
  created by the first run and reused by every later one (an append-only ledger cannot
  delete a SKU that has movements, so a per-run set would grow the catalogue by 500+
  SKUs a run);
* their stock lives at a location of its own, ``certify``, and the run's channels fulfil
  from it: no merchant channel can sell it, no merchant stock shows on a certify channel;
* its channels are ``certify-<run>-<kind>``, each talking to a simulator store of the
  same name; the merchant's SKUs are not listed on them and the certify SKUs are not
  listed on the merchant's channels (removed in the transaction that would list them).

With ``--channels ... --allow-writes`` (the merchant's own stores) the run's channels are
the merchant's: certify creates no channel and no store; it lists its CERTIFY-BULK-*
SKUs on those channels only, and receives their test stock at the location each channel
sells from (the ``certify`` location sells on no merchant channel). Clean-up drops those
listings and counts that stock to 0 like the rest.

Clean up (at the end unless --keep, and at the start of the next run, or with
``certify --cleanup``): the certify channels are deleted (with their listings, outbox,
inbox, order lines, drift and audit rows), open reservations of certify SKUs are
released, their open oversell incidents resolved, their stock counted to 0 at the
``certify`` location, and their simulator stores removed. What stays is what an
append-only ledger keeps: the certify SKUs and location, and their movements.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.models import Channel, ChannelLocation, Listing
from channels.propagation import breaker
from channels.services import channel_create, listings_match_skus
from channels.webhooks.signing import make_standard_secret
from ledger.models import IncidentStatus, Location, OversellIncident, Reservation, Sku, StockLevel
from ledger.services import (
    Origin,
    incident_resolve,
    location_create,
    location_default,
    reservation_release,
    skus_create,
    stock_count,
    stock_receive_lines,
)
from simulator.client import SimulatorClient

SKU_PREFIX = "CERTIFY-"
SKU_KEY_PREFIX = SKU_PREFIX.lower()
CHANNEL_PREFIX = "certify-"
LOCATION_CODE = "certify"
# Channels' retry schedule during a run: the DLQ is reached in seconds, not hours (the
# merchant's channels keep settings.OUTBOX_RETRY_SCHEDULE_SECONDS).
RETRY_SCHEDULE = [1, 2, 3]
# Kinds whose simulated stores take orders through the control API and send webhooks.
SELLING_KINDS = ("sandbox", "standard", "shopify", "woocommerce")
DEFAULT_KINDS = ("sandbox", "standard", "shopify", "woocommerce", "ebay", "amazon")


def sku_code(group: str, index: int) -> str:
    return f"{SKU_PREFIX}{group.upper()}-{index:04d}"


def certify_skus() -> models.QuerySet[Sku]:  # noqa: F821 - a string annotation
    return Sku.objects.filter(code_key__startswith=SKU_KEY_PREFIX)


@dataclass
class CertChannel:
    slug: str
    kind: str
    channel_id: int
    store: dict = field(repr=False, default_factory=dict)

    @property
    def sells(self) -> bool:
        return self.kind in SELLING_KINDS


@dataclass
class Workspace:
    """One run's SKUs, location, simulator stores and channels."""

    run_id: str
    # None against the merchant's own stores: certify reads them through their adapters.
    sim: SimulatorClient | None
    web_url: str
    location: Location
    channels: list[CertChannel] = field(default_factory=list)
    # Where test stock is received: the certify location, or against the merchant's
    # stores the location each of their channels sells from.
    stock_locations: list[Location] = field(default_factory=list)
    skus: dict[str, list[Sku]] = field(default_factory=dict)
    started_at: datetime = field(default_factory=timezone.now)

    # -- who is who ------------------------------------------------------------------------

    @property
    def channel_ids(self) -> list[int]:
        return [c.channel_id for c in self.channels]

    def channel(self, slug: str) -> CertChannel:
        return next(c for c in self.channels if c.slug == slug)

    @property
    def sellers(self) -> list[CertChannel]:
        return [c for c in self.channels if c.sells]

    def sku_ids(self, *groups: str) -> list[int]:
        return [sku.pk for group in groups for sku in self.skus.get(group, [])]

    # -- stock ---------------------------------------------------------------------------

    def stock(self, skus: Sequence[Sku], quantity: int, reason: str) -> None:
        """Bring these SKUs to `quantity` on hand at the certify location (one receipt)."""
        levels = dict(
            StockLevel.objects.filter(sku__in=skus, location=self.location).values_list(
                "sku_id", "on_hand"
            )
        )
        lines = [(sku, quantity - levels.get(sku.pk, 0)) for sku in skus]
        lines = [(sku, q) for sku, q in lines if q > 0]
        if lines:
            stock_receive_lines(lines=lines, location=self.location, origin=self.origin(reason))

    @property
    def real(self) -> bool:
        """The channels are the merchant's own stores, not simulated ones."""
        return self.sim is None

    @property
    def receiving_locations(self) -> list[Location]:
        return self.stock_locations or [self.location]

    def origin(self, reason: str) -> Origin:
        return Origin(source="system", reason=f"certify {self.run_id}: {reason}"[:500])


# --- setting up -------------------------------------------------------------------------


def certify_location() -> Location:
    location = Location.objects.filter(code=LOCATION_CODE).first()
    return location or location_create(
        code=LOCATION_CODE, name="Certify (test stock, never sold)", priority=1000
    )


def merchant_channels(slugs: Sequence[str]) -> tuple[list[CertChannel], list[Location]]:
    """The merchant's channels by slug, and the first location each sells from (its
    highest-priority fulfilment location, or the default location when it names none)."""
    found = {c.slug: c for c in Channel.objects.filter(slug__in=slugs)}
    channels = [CertChannel(slug, found[slug].kind, found[slug].pk) for slug in slugs]
    locations: list[Location] = []
    for slug in slugs:
        link = ChannelLocation.objects.filter(channel=found[slug]).select_related("location")
        first = link.first()
        location = first.location if first is not None else location_default()
        if location not in locations:
            locations.append(location)
    return channels, locations


def ensure_skus(group: str, count: int, *, list_on_channels: bool) -> list[Sku]:
    """CERTIFY-<GROUP>-0001..count, creating the missing ones. Creating a SKU lists it on
    every channel: in the same transaction the listings on other than certify channels
    go again, and with list_on_channels=False the certify channels' too."""
    codes = [sku_code(group, i) for i in range(1, count + 1)]
    existing = {
        sku.code_key: sku for sku in Sku.objects.filter(code_key__in=[c.lower() for c in codes])
    }
    missing = [code for code in codes if code.lower() not in existing]
    if missing:
        with transaction.atomic():
            created = skus_create(
                items=[{"code": code, "title": f"Certify test SKU ({group})"} for code in missing]
            )
            drop_foreign_listings(skus=created, keep_certify=list_on_channels)
        existing.update({sku.code_key: sku for sku in created})
    return [existing[code.lower()] for code in codes]


def drop_foreign_listings(*, skus: Iterable[Sku] | None = None, keep_certify: bool = True) -> int:
    """Certify SKUs listed on the merchant's channels (and merchant SKUs on certify
    channels) are not listings anyone wants: delete them with their outbox rows."""
    foreign = Listing.objects.filter(sku__code_key__startswith=SKU_KEY_PREFIX).exclude(
        channel__slug__startswith=CHANNEL_PREFIX
    )
    if skus is not None:
        foreign = foreign.filter(sku__in=list(skus))
    count, _ = foreign.delete()
    if not keep_certify and skus is not None:
        count += Listing.objects.filter(
            sku__in=list(skus), channel__slug__startswith=CHANNEL_PREFIX
        ).delete()[0]
    return count


def channel_settings(kind: str, described: dict) -> dict:
    return {
        **described["channel"]["settings"],
        "base_url": described["base_url"],
        "retry_schedule_seconds": RETRY_SCHEDULE,
    }


def create_channels(
    ws: Workspace, kinds: Sequence[str], levels: dict[str, int], listed: Sequence[Sku]
) -> None:
    """A simulator store per kind (listing every certify SKU at `levels`, 0 otherwise),
    and a hub channel for it listing only `listed`, fulfilling from the certify location."""
    listed_ids = {sku.pk for sku in listed}
    for kind in kinds:
        slug = f"{CHANNEL_PREFIX}{ws.run_id}-{kind}"
        secret = (
            make_standard_secret() if kind in ("standard", "sandbox") else secrets.token_hex(24)
        )
        described = ws.sim.create_store(
            kind,
            slug,
            levels=levels,
            webhook_url=f"{ws.web_url}/webhooks/{slug}/",
            webhook_secret=secret,
        )
        with transaction.atomic():
            channel = channel_create(
                slug=slug,
                kind=kind,
                name=f"Certify {ws.run_id} {kind}",
                webhook_secret=secret,
                credentials=described["channel"]["credentials"],
                settings=channel_settings(kind, described),
                allocation={"mode": "pool"},
                fulfilment_locations=[ws.location],
            )
            Listing.objects.filter(channel=channel).exclude(sku_id__in=listed_ids).delete()
        ws.channels.append(CertChannel(slug, kind, channel.pk, described))


def list_on_certify_channels(ws: Workspace, skus: Sequence[Sku]) -> None:
    """List these certify SKUs on the run's channels (and on no other), in the caller's
    transaction."""
    listings_match_skus(skus=skus)
    Listing.objects.filter(sku__in=list(skus)).exclude(channel_id__in=ws.channel_ids).delete()


# --- cleaning up ------------------------------------------------------------------------


def zero_stock(ws: Workspace, skus: Sequence[Sku], reason: str) -> int:
    """Count these SKUs to 0 at the run's receiving locations (their listings publish 0).
    Returns the levels counted."""
    zeroed = 0
    for level in (
        StockLevel.objects.filter(sku__in=list(skus), location__in=ws.receiving_locations)
        .exclude(on_hand=0, committed=0)
        .select_related("sku", "location")
    ):
        stock_count(sku=level.sku, counted=0, location=level.location, origin=ws.origin(reason))
        zeroed += 1
    return zeroed


def cleanup(*, sim: SimulatorClient | None = None, run_id: str = "", log=print) -> dict:
    """Remove the certify channels (of one run, or every one), release, resolve and zero
    what certify SKUs hold. Safe to run again."""
    prefix = f"{CHANNEL_PREFIX}{run_id}-" if run_id else CHANNEL_PREFIX
    channels = list(Channel.objects.filter(slug__startswith=prefix))
    _wait_quiet([c.pk for c in channels])
    slugs = [c.slug for c in channels]
    with transaction.atomic():
        Channel.objects.filter(pk__in=[c.pk for c in channels]).delete()
        dropped = drop_foreign_listings()
    for slug in slugs:
        breaker.reset(slug)
        if sim is not None:
            with contextlib.suppress(Exception):
                sim.delete_store(slug)
    origin = Origin(source="system", reason="certify cleanup: test stock returned to zero")
    released = 0
    for reservation in Reservation.objects.filter(
        sku__code_key__startswith=SKU_KEY_PREFIX, status="open"
    ):
        reservation_release(reservation=reservation, origin=origin)
        released += 1
    resolved = 0
    for incident in OversellIncident.objects.filter(
        sku__code_key__startswith=SKU_KEY_PREFIX, status=IncidentStatus.OPEN
    ):
        incident_resolve(
            incident_id=incident.pk,
            resolution="certify test sale: nothing was shipped, the test stock was zeroed",
        )
        resolved += 1
    zeroed = 0
    for level in (
        StockLevel.objects.filter(sku__code_key__startswith=SKU_KEY_PREFIX)
        .exclude(on_hand=0, committed=0)
        .select_related("sku", "location")
    ):
        if level.on_hand or level.committed:
            stock_count(sku=level.sku, counted=0, location=level.location, origin=origin)
            zeroed += 1
    done = {
        "channels_deleted": slugs,
        "foreign_listings_deleted": dropped,
        "reservations_released": released,
        "incidents_resolved": resolved,
        "levels_zeroed": zeroed,
    }
    if slugs or released or resolved or zeroed:
        log(
            f"cleanup: {len(slugs)} channels deleted, {released} reservations released, "
            f"{resolved} incidents resolved, {zeroed} stock levels counted to 0"
        )
    return done


def _wait_quiet(channel_ids: list[int], timeout: float = 10.0) -> None:
    """Let pushes in flight finish before their channel goes (a drain would find its
    rows gone mid-way)."""
    from channels.models import OutboxEntry, OutboxStatus

    if not channel_ids:
        return
    Channel.objects.filter(pk__in=channel_ids).update(enabled=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not OutboxEntry.objects.filter(
            channel_id__in=channel_ids, status=OutboxStatus.IN_FLIGHT
        ).exists():
            return
        time.sleep(0.2)


def allow_loopback() -> None:
    """The simulator is on loopback: this process's channel checks must allow it (the
    processes certify starts get CHANNEL_ALLOW_PRIVATE_NETWORKS=1 from the harness)."""
    settings.CHANNEL_ALLOW_PRIVATE_NETWORKS = True
