"""Tokens an adapter renews by itself (eBay's user access token), kept with the
channel's encrypted credentials.

A renewal is the hub's housekeeping, not a person's change: it writes only the
``credentials`` column (no audit row, ``updated_at`` untouched, so the intake's cached
copy of the channel's webhook secrets stays valid). Processes that find the token due at
the same moment queue on the channel row's lock and each reads the credentials again
under it: the first renews, the others find a good token and send nothing to eBay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction

from .adapters.base import CredentialStore
from .models import Channel


class ChannelCredentialStore:
    """The :class:`~channels.adapters.base.CredentialStore` of one channel."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def renew(
        self, change: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
    ) -> Mapping[str, Any]:
        with transaction.atomic():
            channel = (
                Channel.objects.select_for_update(of=("self",))
                .only("pk", "credentials")
                .get(pk=self.channel_id)
            )
            current = dict(channel.credentials or {})
            changes = change(current)
            if changes:
                current.update(changes)
                channel.credentials = current
                channel.save(update_fields=["credentials"])
            return current


def channel_credential_store(channel: Channel) -> CredentialStore:
    return ChannelCredentialStore(channel.pk)
