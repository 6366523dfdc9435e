"""The intake's wake-up keys: one flag that asks for the inbox to be processed, and the
processor leases (one per intake worker slot), on the generic flags and leases of
`channels.wakeup`."""

from __future__ import annotations

from django.conf import settings

from foundation.queueing import enqueue

from ..wakeup import flags_raise

# Published by name: the tasks module imports the services, never the other way round.
PROCESS_TASK = "channels.tasks.process_inbox"

WAKE_FLAG = "inbox-process-requested"
# Held by a worker while it processes the inbox, renewed every batch: a worker killed
# mid-batch holds its slot this long at most (the sweeper then wakes another).
PROCESSOR_LEASE_MS = 10_000


def processor_leases() -> list[str]:
    """One lease per processor allowed at once (INBOX_PROCESSORS, the intake workers'
    total concurrency)."""
    return [f"inbox-processor:{slot}" for slot in range(settings.INBOX_PROCESSORS)]


def request_processing() -> None:
    """Ask a worker to process the inbox. A burst of deliveries publishes one task: the
    flag stays raised until a worker clears it, just before it claims what is waiting.
    Nothing is published while every processor slot is busy: each holder looks at the
    flag again before it stops (see `channels.wakeup`)."""
    if flags_raise([WAKE_FLAG], unless_held=[processor_leases()]):
        enqueue(PROCESS_TASK)
