"""What the channel, allocation and listing services share: their errors, the audit
row each write leaves, and how a new listing starts."""

from __future__ import annotations

from typing import Any

from foundation.errors import DomainError
from ledger.models import Sku

from ..models import (
    Channel,
    ChannelAudit,
    ChannelKind,
    ListingState,
)

# Kinds that address a listing by the SKU itself; the others need the channel's ids
# (looked up by SKU through the adapter, or imported from CSV).
KINDS_ADDRESSED_BY_SKU = {
    ChannelKind.AMAZON,
    ChannelKind.EBAY,
    ChannelKind.STANDARD,
    ChannelKind.SANDBOX,
}


class InvalidChannel(DomainError):
    code = "invalid_channel"


class InvalidRule(DomainError):
    code = "invalid_allocation"


class EndpointChangeRefused(DomainError):
    """The person may change a channel, but not its secrets or where it sends them."""

    code = "forbidden"
    http_status = 403


def audit(
    kind: str, *, channel: Channel, message: str, sku: Sku | None = None, actor=None, **data: Any
) -> None:
    """The channel audit row of a write (the actor only when a person made it)."""
    ChannelAudit.objects.create(
        kind=kind,
        channel=channel,
        sku=sku,
        actor=actor if actor is not None and actor.is_authenticated else None,
        message=message,
        data=data,
    )


def initial_state(channel: Channel) -> str:
    # Adapters look a channel's own ids up by SKU on the first push (and report SKUs the
    # channel does not list), so a listing is pushable from the start.
    return ListingState.PENDING
