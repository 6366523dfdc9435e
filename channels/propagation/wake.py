"""The drain's wake-up keys: a flag per channel that asks for a drain, and the lease held
by the one worker draining it (built on the generic flags and leases of `channels.wakeup`).
"""

from __future__ import annotations

from django.db import transaction

from foundation.queueing import enqueue

from ..wakeup import flag_clear, flag_is_raised, flags_raise

# Published by name: the tasks module imports the services, never the other way round.
DRAIN_TASK = "channels.tasks.drain_outbox"


def request_drain(channel_ids: list[int]) -> None:
    """Ask for a drain of these channels once this transaction commits. With Redis, a
    short-lived flag per channel folds a burst of commits into one task: the drain
    clears the flag before it claims, so a row committed after the claim raises it again.
    No task is published for a channel whose drainer is at work (it holds the channel's
    lease): it keeps claiming while its flag is raised (see `channels.wakeup`)."""

    def publish() -> None:
        for channel_id in drain_flags_raise(channel_ids):
            enqueue(DRAIN_TASK, channel_id)

    transaction.on_commit(publish)


def _drain_flag(channel_id: int) -> str:
    return f"drain-requested:{channel_id}"


def drain_lease_key(channel_id: int) -> str:
    """Held by the one worker draining the channel (`channels.drain`)."""
    return f"drain-lease:{channel_id}"


def drain_flags_raise(channel_ids: list[int]) -> list[int]:
    """The channels whose flag this call raised and that nobody is draining (all of them
    without Redis)."""
    raised = flags_raise(
        [_drain_flag(channel_id) for channel_id in channel_ids],
        unless_held=[[drain_lease_key(channel_id)] for channel_id in channel_ids],
    )
    return [channel_ids[index] for index in raised]


def drain_flag_clear(channel_id: int) -> None:
    flag_clear(_drain_flag(channel_id))


def drain_flag_raised(channel_id: int) -> bool:
    return flag_is_raised(_drain_flag(channel_id))
