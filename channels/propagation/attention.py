"""A channel that needs its merchant: a credential expired or refused, a scope missing, a
location or product type the channel does not know. Nothing pushed to it can work until
the merchant acts, so its pushes wait (pending, no attempt spent, nothing dead) instead
of filling the dead-letter queue, and the channel page, the channels list, the digest
and /healthz say what to do in words.

The drainer marks it (`channel_needs_action_mark`, when an adapter raises
ChannelNeedsAction); the merchant clears it by changing the channel's credentials or
settings (`channels.services.channel_update`) or with "Try again" on the channel page
(`channel_try_again`). Either way the drain is woken.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import Channel, ChannelAudit, ChannelAuditKind
from .wake import request_drain

ACTION_LIMIT = 1000


def channel_needs_action_mark(*, channel: Channel, action: str) -> bool:
    """Mark the channel as needing its merchant, in a transaction of its own. Only while
    the channel is as the drain read it (its `updated_at`): credentials changed meanwhile
    may be the merchant's fix, and the next push tells. Keeps the first `since` while the
    state lasts. Returns whether the channel is marked."""
    action = (action.strip() or "The channel refuses the hub's requests")[:ACTION_LIMIT]
    with transaction.atomic():
        as_read = Channel.objects.filter(pk=channel.pk, updated_at=channel.updated_at)
        marked = as_read.filter(needs_action="").update(
            needs_action=action, needs_action_since=timezone.now()
        )
        if marked:
            ChannelAudit.objects.create(
                kind=ChannelAuditKind.CHANNEL,
                channel=channel,
                message=f"Pushes paused until the merchant acts: {action}",
            )
        else:
            marked = as_read.exclude(needs_action="").update(needs_action=action)
    return bool(marked)


def channel_try_again(*, channel: Channel, actor: AbstractBaseUser | None) -> Channel:
    """The merchant says it is fixed (on the channel's side, say): clear the state and
    wake the drain; if the channel still refuses, the next push marks it again."""
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        if channel.needs_action:
            needs_action_clear(channel=channel, actor=actor, why="Try again")
    return channel


def needs_action_clear(*, channel: Channel, actor: AbstractBaseUser | None, why: str) -> None:
    """Inside the caller's transaction, on the locked channel: clear the state (an
    UPDATE, so `updated_at` and the intake's cached copy stay), audit it, and wake the
    drain on commit."""
    action = channel.needs_action
    Channel.objects.filter(pk=channel.pk).update(needs_action="", needs_action_since=None)
    channel.needs_action, channel.needs_action_since = "", None
    ChannelAudit.objects.create(
        kind=ChannelAuditKind.CHANNEL,
        channel=channel,
        actor=actor if actor is not None and actor.is_authenticated else None,
        message=f"Pushes resumed ({why}); the channel had needed: {action}",
    )
    request_drain([channel.pk])
