"""Numbers for /healthz and the dashboard header."""

from ledger.selectors import open_incident_count

from .models import Channel
from .selectors import dlq_size, outbox_backlog


def loop_health() -> dict:
    last_reconcile = (
        Channel.objects.exclude(last_reconciled_at=None)
        .order_by("-last_reconciled_at")
        .values_list("last_reconciled_at", flat=True)
        .first()
    )
    return {
        "last_reconcile_at": last_reconcile,
        "last_digest_at": None,
        "outbox_backlog": outbox_backlog(),
        "dlq_size": dlq_size(),
        "open_incidents": open_incident_count(),
        "inbox_backlog": None,
    }


def channel_connection_test(*, channel: Channel, sample: int = 3) -> dict:
    """A read through the channel's adapter (a few listings' levels, nothing written):
    does the channel answer, with these credentials? Returns `ok`, `message` (in words),
    `levels` (SKU -> what the channel shows, None for not found) and `elapsed_ms`."""
    import time

    from .adapters.base import ChannelError, ListingRef, adapter_for
    from .models import Listing

    refs = [
        ListingRef(
            sku=listing.sku.code,
            external_id=listing.external_id,
            external_parent_id=listing.external_parent_id,
            external_location_id=listing.external_location_id,
        )
        for listing in Listing.objects.filter(channel=channel)
        .select_related("sku")
        .order_by("sku__code_key")[:sample]
    ] or [ListingRef(sku="CONNECTION-TEST")]
    settings = channel.settings or {}
    started = time.monotonic()
    try:
        with adapter_for(
            channel.kind,
            base_url=settings.get("base_url", ""),
            credentials={"webhook_secret": channel.webhook_secret, **(channel.credentials or {})},
            settings=settings,
            timeout=min(float(settings.get("timeout_seconds", 10)), 10.0),
        ) as adapter:
            levels = adapter.read_levels(refs)
    except ChannelError as exc:
        status = f" (HTTP {exc.status_code})" if getattr(exc, "status_code", None) else ""
        return {
            "ok": False,
            "message": f"{exc}{status}",
            "levels": {},
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
    except Exception as exc:  # a misconfigured channel must not break the page
        return {
            "ok": False,
            "message": f"{type(exc).__name__}: {exc}",
            "levels": {},
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        }
    return {
        "ok": True,
        "message": "The channel answered.",
        "levels": levels,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }
