"""Allocation rules: a channel's default and its per-SKU overrides, checked so that the
shares of one SKU never add up past 100%."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ledger.models import Sku

from ..models import (
    AllocationMode,
    AllocationRule,
    Channel,
    ChannelAuditKind,
)
from ..propagation.outbox import outbox_refresh_for_skus
from .common import InvalidRule, audit

RULE_FIELDS = ("mode", "share_percent", "fixed_quantity", "buffer_units", "buffer_percent")

# --- allocation rules -------------------------------------------------------------------


def _rule_values(values: dict, base: AllocationRule | None) -> dict:
    merged = (
        {name: getattr(base, name) for name in RULE_FIELDS}
        if base
        else {
            "mode": AllocationMode.POOL,
            "share_percent": Decimal(100),
            "fixed_quantity": 0,
            "buffer_units": 0,
            "buffer_percent": Decimal(0),
        }
    )
    merged.update({k: v for k, v in values.items() if k in RULE_FIELDS and v is not None})
    if merged["mode"] not in AllocationMode.values:
        raise InvalidRule(f"mode must be one of {', '.join(AllocationMode.values)}.", field="mode")
    for name in ("share_percent", "buffer_percent"):
        merged[name] = Decimal(str(merged[name]))
        if not Decimal(0) <= merged[name] <= Decimal(100):
            raise InvalidRule(f"{name} must be between 0 and 100.", field=name)
    for name in ("fixed_quantity", "buffer_units"):
        if int(merged[name]) < 0:
            raise InvalidRule(f"{name} cannot be negative.", field=name)
    return merged


def _check_share_partition(*, channel: Channel, sku: Sku | None, values: dict) -> None:
    """Shares of one SKU across channels may not exceed 100% (they partition stock)."""

    def share(rule_values) -> Decimal:
        return (
            rule_values["share_percent"]
            if rule_values["mode"] == AllocationMode.SHARE
            else Decimal(0)
        )

    defaults = {
        row.channel_id: {n: getattr(row, n) for n in RULE_FIELDS}
        for row in AllocationRule.objects.filter(sku__isnull=True)
    }
    overrides: dict[int, dict[int, dict]] = defaultdict(dict)
    for row in AllocationRule.objects.filter(sku__isnull=False):
        overrides[row.sku_id][row.channel_id] = {n: getattr(row, n) for n in RULE_FIELDS}
    if sku is None:
        defaults[channel.pk] = values
    else:
        overrides[sku.pk][channel.pk] = values

    def total(sku_overrides: dict[int, dict]) -> Decimal:
        channels = set(defaults) | set(sku_overrides)
        return sum((share(sku_overrides.get(c) or defaults[c]) for c in channels), Decimal(0))

    scopes = [({}, None)] + [(rules, sku_id) for sku_id, rules in overrides.items()]
    for sku_overrides, sku_id in scopes:
        combined = total(sku_overrides)
        if combined > 100:
            where = (
                f"SKU {Sku.objects.get(pk=sku_id).code}"
                if sku_id is not None
                else "SKUs without overrides"
            )
            raise InvalidRule(
                f"Shares for {where} would add up to {combined}% across channels; "
                "they partition the same stock and may not exceed 100%.",
                field="share_percent",
                total_percent=str(combined),
            )


def rule_save(*, channel: Channel, sku: Sku | None, values: dict) -> AllocationRule:
    existing = AllocationRule.objects.filter(channel=channel, sku=sku).first()
    merged = _rule_values(values, existing)
    _check_share_partition(channel=channel, sku=sku, values=merged)
    rule = existing or AllocationRule(channel=channel, sku=sku)
    for name, value in merged.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def allocation_rule_set(
    *, channel: Channel, sku: Sku | None, values: dict, actor: AbstractBaseUser | None = None
) -> AllocationRule:
    """Set the channel's default rule (sku=None) or a per-SKU override, then republish."""
    with transaction.atomic():
        rule = rule_save(channel=channel, sku=sku, values=values)
        sku_ids = [sku.pk] if sku else channel.listings.values_list("sku_id", flat=True)
        outbox_refresh_for_skus(sku_ids=sku_ids, channel_ids=[channel.pk])
        scope = sku.code if sku else "default"
        audit(
            ChannelAuditKind.RULE,
            channel=channel,
            sku=sku,
            actor=actor,
            message=f"{scope} rule set to {rule.mode}",
            **{name: str(getattr(rule, name)) for name in RULE_FIELDS},
        )
    return rule


def allocation_rule_delete(
    *, channel: Channel, sku: Sku, actor: AbstractBaseUser | None = None
) -> None:
    """Drop a per-SKU override; the channel's default rule applies again."""
    with transaction.atomic():
        deleted, _ = AllocationRule.objects.filter(channel=channel, sku=sku).delete()
        if not deleted:
            raise InvalidRule(f"{channel.slug} has no override for {sku.code}.", field="sku")
        outbox_refresh_for_skus(sku_ids=[sku.pk], channel_ids=[channel.pk])
        audit(
            ChannelAuditKind.RULE, channel=channel, sku=sku, actor=actor, message="override removed"
        )
