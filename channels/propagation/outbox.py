"""The transactional outbox: what each channel listing should show, written in the same
transaction as the stock change that caused it.

`outbox_refresh_for_skus` is called by every ledger service (inside its transaction,
with the SKUs' stock levels locked) and by every rule, channel and listing change. It
recomputes the published quantity of each affected listing and upserts at most one
pending OutboxEntry per listing whose target changed. The number of statements is
constant in the number of listings (bulk reads, bulk writes).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from ledger.models import Location, StockLevel

from ..allocation import POOL, Rule, published_quantity
from ..models import (
    AllocationRule,
    Channel,
    ChannelLocation,
    Listing,
    ListingState,
    OutboxEntry,
)
from .wake import request_drain

# Listings that get no push: channel ids unknown, or a SKU the channel does not carry
# (a reconcile or a mapping lists it again).
NOT_PUSHED = (ListingState.UNMAPPED, ListingState.NOT_ON_CHANNEL)


def effective_rules(
    *, sku_ids: Iterable[int], channel_ids: Iterable[int]
) -> dict[tuple[int, int | None], Rule]:
    """(channel_id, sku_id or None for the default) -> Rule."""
    sku_ids, channel_ids = sorted(set(sku_ids)), sorted(set(channel_ids))
    if not channel_ids:
        return {}
    sku_filter = f" OR sku_id IN ({_marks(sku_ids)})" if sku_ids else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT channel_id, sku_id, mode, share_percent, fixed_quantity, buffer_units, "
            f"buffer_percent FROM {AllocationRule._meta.db_table} "
            f"WHERE channel_id IN ({_marks(channel_ids)}) AND (sku_id IS NULL{sku_filter})",
            [*channel_ids, *sku_ids],
        )
        rows = [_RuleRow(*row) for row in cursor.fetchall()]
    return {(row.channel_id, row.sku_id): Rule.of(row) for row in rows}


class _RuleRow(NamedTuple):
    channel_id: int
    sku_id: int | None
    mode: str
    share_percent: Decimal
    fixed_quantity: int
    buffer_units: int
    buffer_percent: Decimal


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


@dataclass
class _ListingRow:
    id: int
    channel_id: int
    sku_id: int
    published: int
    target_version: int
    confirmed: int | None
    state: str
    enabled: bool
    # The SKU's available quantity summed over the channel's fulfilment locations.
    available: int

    @property
    def pk(self) -> int:
        return self.id


def _listing_rows(sku_ids: set[int], channel_ids: set[int] | None) -> list[_ListingRow]:
    """The listings of these SKUs with their channel's enabled flag and what the channel
    may sell from: available summed over the channel's fulfilment locations, or the
    default location when it names none. One plain statement, because it runs inside
    every stock movement (usually to find there are no listings)."""
    listing, channel = Listing._meta.db_table, Channel._meta.db_table
    links, location = ChannelLocation._meta.db_table, Location._meta.db_table
    levels = StockLevel._meta.db_table
    sql = f"""
        SELECT l.id, l.channel_id, l.sku_id, l.published, l.target_version, l.confirmed,
            l.state, c.enabled,
            COALESCE((
                SELECT SUM(s.on_hand - s.committed) FROM {levels} s
                WHERE s.sku_id = l.sku_id AND s.location_id IN (
                    SELECT cl.location_id FROM {links} cl WHERE cl.channel_id = l.channel_id
                    UNION ALL
                    SELECT f.id FROM (
                        SELECT d.id FROM {location} d WHERE d.is_default
                        ORDER BY d.priority, d.id LIMIT 1
                    ) f
                    WHERE NOT EXISTS (SELECT 1 FROM {links} x WHERE x.channel_id = l.channel_id)
                )
            ), 0)
        FROM {listing} l JOIN {channel} c ON c.id = l.channel_id
        WHERE l.sku_id IN ({_marks(sku_ids)})"""
    params = list(sku_ids)
    if channel_ids is not None:
        if not channel_ids:
            return []
        sql += f" AND l.channel_id IN ({_marks(channel_ids)})"
        params += list(channel_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY l.id", params)
        return [_ListingRow(*row) for row in cursor.fetchall()]


def outbox_refresh_on_stock_change(sku_ids: Collection[int]) -> None:
    """The ledger's `stock_changed` hook (registered in `ChannelsConfig.ready`)."""
    outbox_refresh_for_skus(sku_ids=sku_ids)


def outbox_refresh_for_skus(
    *,
    sku_ids: Iterable[int],
    channel_ids: Iterable[int] | None = None,
    force: bool = False,
) -> int:
    """Recompute published quantities for these SKUs' listings and queue what changed.

    `force` queues a push even when the target did not change (a listing was just
    created, a channel re-enabled: the channel's own number is unknown). Returns the
    number of listings queued.
    """
    sku_ids = set(sku_ids)
    if not sku_ids:
        return 0
    recheck = getattr(_batched, "recheck", None) or set()
    batch = getattr(_batched, "sku_ids", None)
    if batch is not None and channel_ids is None and not force:
        batch.update(sku_ids)
        return 0
    listings = _listing_rows(sku_ids, set(channel_ids) if channel_ids is not None else None)
    if not listings:
        return 0
    involved = {listing.channel_id for listing in listings}
    rules = effective_rules(sku_ids=sku_ids, channel_ids=involved)

    now = timezone.now()
    changed: list[_ListingRow] = []
    queued: list[tuple[_ListingRow, int]] = []
    for listing in listings:
        rule = rules.get((listing.channel_id, listing.sku_id)) or rules.get(
            (listing.channel_id, None), POOL
        )
        target = published_quantity(listing.available, rule)
        shows_other = (listing.channel_id, listing.sku_id) in recheck and (
            listing.confirmed is not None and listing.confirmed != target
        )
        if target == listing.published and not force and not shows_other:
            continue
        previous = listing.confirmed if listing.confirmed is not None else listing.published
        listing.published = target
        listing.target_version += 1
        if listing.enabled and listing.state not in NOT_PUSHED:
            listing.state = ListingState.PENDING
            priority = (
                OutboxEntry.PRIORITY_DECREASE
                if target < previous
                else OutboxEntry.PRIORITY_INCREASE
            )
            queued.append((listing, priority))
        changed.append(listing)
    if not changed:
        return 0
    _update_listings(changed)
    if queued:
        _upsert_pending(queued, now)
        request_drain(sorted({listing.channel_id for listing, _ in queued}))
    return len(queued)


_batched = threading.local()


@contextlib.contextmanager
def outbox_refresh_batched():
    """Fold the refreshes of many stock movements in one transaction into one.

    Inside the block, `outbox_refresh_for_skus` called as a movement calls it (no channel
    filter, no force) only remembers the SKUs; they are refreshed together when the block
    ends, still inside the caller's transaction. The intake uses it to apply a batch of
    webhook deliveries: fifty sales of one SKU recompute its listings once, not fifty
    times, and queue one push. Use `outbox_refresh_flush` before reading listings inside
    the block."""
    if getattr(_batched, "sku_ids", None) is not None:
        yield  # already batching: the outer block refreshes
        return
    _batched.sku_ids, _batched.recheck = set(), set()
    try:
        yield
        outbox_refresh_flush()
    finally:
        _batched.sku_ids, _batched.recheck = None, None


def outbox_recheck(pairs: Iterable[tuple[int, int]]) -> None:
    """The listings ((channel id, SKU id)) whose channel may no longer show what the hub
    last confirmed (it sold from its own count): the batching block's refresh (this call's
    own, outside one) queues a push for each that shows other than its target, even when
    the target did not move."""
    pairs = set(pairs)
    with outbox_refresh_batched():
        _batched.recheck.update(pairs)
        _batched.sku_ids.update(sku_id for _, sku_id in pairs)


def outbox_refresh_flush() -> int:
    """Refresh what a batching block collected so far (nothing outside one)."""
    pending = getattr(_batched, "sku_ids", None)
    if not pending:
        return 0
    _batched.sku_ids = None  # this refresh runs now
    try:
        return outbox_refresh_for_skus(sku_ids=pending)
    finally:
        _batched.sku_ids, _batched.recheck = set(), set()


def _update_listings(listings: list[_ListingRow]) -> None:
    table = Listing._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET published = %s, target_version = %s, state = %s WHERE id = %s",
            [(row.published, row.target_version, row.state, row.pk) for row in listings],
        )


def _upsert_pending(queued: list[tuple[_ListingRow, int]], now) -> None:
    """One statement: insert a pending entry per listing, or coalesce into the pending one
    (newer target replaces it, its backoff and attempts stay, decreases win priority).
    The arbiter is the partial unique index one_pending_per_listing."""
    for start in range(0, len(queued), UPSERT_CHUNK):
        _upsert_chunk(queued[start : start + UPSERT_CHUNK], now)


UPSERT_CHUNK = 1000  # 9 parameters a row: well under PostgreSQL's 65,535 per statement


def _upsert_chunk(queued: list[tuple[_ListingRow, int]], now) -> None:
    table = OutboxEntry._meta.db_table
    rows = [
        (listing.channel_id, listing.pk, listing.published, listing.target_version, priority)
        for listing, priority in queued
    ]
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, 'pending', 0, %s, '', %s, %s, %s)"] * len(rows))
    params: list = []
    for row in rows:
        params.extend([*row, now, now, now, now])
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (channel_id, listing_id, quantity, target_version, priority,
                status, attempts, next_attempt_at, last_error, created_at, updated_at,
                enqueued_at)
            VALUES {placeholders}
            ON CONFLICT (listing_id) WHERE status = 'pending' DO UPDATE SET
                quantity = excluded.quantity,
                target_version = excluded.target_version,
                priority = {least}({table}.priority, excluded.priority),
                updated_at = excluded.updated_at
            """,
            params,
        )
