"""Listings: matched to new SKUs, mapped to the channel's ids, imported and exported as
CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from ledger.models import Sku, normalize_sku_code

from ..models import (
    Channel,
    Listing,
    ListingState,
)
from ..propagation.outbox import outbox_refresh_for_skus
from .common import KINDS_ADDRESSED_BY_SKU, InvalidChannel, initial_state

# --- listings ---------------------------------------------------------------------------


def listings_match_new_skus(skus: Sequence[Sku]) -> None:
    """The ledger's `skus_created` hook (registered in `ChannelsConfig.ready`)."""
    listings_match_skus(skus=skus)


def listings_match_skus(*, skus: Sequence[Sku]) -> None:
    """New SKUs are listed on every channel (matched by their normalized codes)."""
    channels = list(Channel.objects.all())
    if not channels or not skus:
        return
    Listing.objects.bulk_create(
        [Listing(channel=c, sku=sku, state=initial_state(c)) for c in channels for sku in skus],
        ignore_conflicts=True,
        batch_size=1000,
    )
    outbox_refresh_for_skus(sku_ids=[sku.pk for sku in skus], force=True)


def listing_map(
    *,
    channel: Channel,
    sku: Sku,
    external_id: str = "",
    external_parent_id: str = "",
    external_location_id: str = "",
) -> Listing:
    """Record the channel's ids for a SKU; a mapped listing is pushed straight away."""
    with transaction.atomic():
        listing, _ = Listing.objects.select_for_update().get_or_create(
            channel=channel, sku=sku, defaults={"state": initial_state(channel)}
        )
        listing.external_id = external_id
        listing.external_parent_id = external_parent_id
        listing.external_location_id = external_location_id
        if listing.state == ListingState.NOT_ON_CHANNEL:
            listing.state = ListingState.PENDING  # mapped by a person: try again
        if listing.state == ListingState.UNMAPPED and (
            external_id or channel.kind in KINDS_ADDRESSED_BY_SKU
        ):
            listing.state = ListingState.PENDING
        listing.save()
        outbox_refresh_for_skus(sku_ids=[sku.pk], channel_ids=[channel.pk], force=True)
    return listing


@dataclass
class ImportReport:
    matched: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "matched": self.matched,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "summary": {
                "matched": len(self.matched),
                "skipped": len(self.skipped),
                "rejected": len(self.rejected),
            },
        }


CSV_COLUMNS = ["sku", "channel", "external_id", "external_parent_id", "external_location_id"]


def listings_import_csv(*, text: str) -> ImportReport:
    """Import `sku,channel,external_id,external_parent_id,external_location_id` rows.

    Every row is reported: matched (saved), skipped (already so), rejected (and why).
    Rows are independent: one bad row does not stop the others.
    """
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"sku", "channel", "external_id"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidChannel(
            f"The CSV needs a header row with {', '.join(CSV_COLUMNS)}; missing "
            f"{', '.join(sorted(missing))}.",
            field="file",
        )
    channels = {c.slug: c for c in Channel.objects.all()}
    skus = {s.code_key: s for s in Sku.objects.all()}
    for line, row in enumerate(reader, start=2):
        code = (row.get("sku") or "").strip()
        slug = (row.get("channel") or "").strip()
        entry = {"line": line, "sku": code, "channel": slug}
        sku = skus.get(normalize_sku_code(code))
        channel = channels.get(slug)
        ids = {
            name: (row.get(name) or "").strip()
            for name in ("external_id", "external_parent_id", "external_location_id")
        }
        if not code or sku is None:
            report.rejected.append({**entry, "reason": f"unknown SKU {code!r}"})
            continue
        if channel is None:
            report.rejected.append({**entry, "reason": f"unknown channel {slug!r}"})
            continue
        if not ids["external_id"] and channel.kind not in KINDS_ADDRESSED_BY_SKU:
            report.rejected.append({**entry, "reason": f"{channel.kind} needs an external_id"})
            continue
        current = Listing.objects.filter(channel=channel, sku=sku).first()
        if (
            current
            and all(getattr(current, k) == v for k, v in ids.items())
            and current.state not in (ListingState.UNMAPPED, ListingState.NOT_ON_CHANNEL)
        ):
            report.skipped.append({**entry, "reason": "already mapped to these ids"})
            continue
        listing_map(channel=channel, sku=sku, **ids)
        report.matched.append({**entry, **ids})
    return report


def listings_export_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for listing in Listing.objects.select_related("sku", "channel").order_by(
        "channel__slug", "sku__code_key"
    ):
        writer.writerow(
            [
                listing.sku.code,
                listing.channel.slug,
                listing.external_id,
                listing.external_parent_id,
                listing.external_location_id,
            ]
        )
    return out.getvalue()
