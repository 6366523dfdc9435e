"""The intake's wake-up keys: one flag that asks for the inbox to be processed, and the
processor leases (one per intake worker slot), on the generic flags and leases of
`channels.wakeup`.

A delivery asks for processing once it is committed (`processing_wanted`). In a storm
that would be one Redis round trip per delivery, a fifth of a delivery's CPU for a flag
that is already up, so a process folds the asks of a few milliseconds into one
(`INTAKE_WAKE_WINDOW_MS`, 0 to ask at once): each ask sets a local signal, and one
thread per process waits for it, lets the window pass, lowers the signal and only then
raises the Redis flag. An ask that comes after the signal was lowered is answered by
the next round, so every committed delivery is followed by a raise. A process that ends
with an ask pending answers it on its way out; one killed outright leaves it to the
inbox sweeper (every 30 s, for rows waiting over STUCK_AFTER), as a Redis outage does.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings

from foundation.queueing import enqueue

from ..wakeup import flags_raise

logger = logging.getLogger(__name__)

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
    """Ask a worker to process the inbox, now. A burst of deliveries publishes one task:
    the flag stays raised until a worker clears it, just before it claims what is
    waiting. Nothing is published while every processor slot is busy: each holder looks
    at the flag again before it stops (see `channels.wakeup`)."""
    if flags_raise([WAKE_FLAG], unless_held=[processor_leases()]):
        enqueue(PROCESS_TASK)


class _Coalescer:
    """This process's asks for processing, folded into one `request_processing` per
    window by a thread of its own (started on the first ask in each process, so a
    forked web worker gets its own)."""

    def __init__(self) -> None:
        self.wanted = threading.Event()
        self.lock = threading.Lock()
        self.pid: int | None = None

    def ask(self) -> None:
        if self.pid != os.getpid():
            self._start()
        self.wanted.set()

    def _start(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                return
            self.wanted = threading.Event()
            threading.Thread(target=self._serve, name="intake-wake", daemon=True).start()
            self.pid = os.getpid()

    def _serve(self) -> None:
        while True:
            self.wanted.wait()
            time.sleep(settings.INTAKE_WAKE_WINDOW_MS / 1000)
            self.answer()

    def answer(self) -> None:
        """Lower the signal, then raise the flag: an ask from now on gets a round too."""
        self.wanted.clear()
        try:
            request_processing()
        except Exception:  # a failed round must not end the thread; the sweeper catches up
            logger.exception("could not ask for the inbox to be processed")

    def answer_pending(self) -> None:
        if self.pid == os.getpid() and self.wanted.is_set():
            self.answer()


_coalescer = _Coalescer()
atexit.register(_coalescer.answer_pending)


def processing_wanted() -> None:
    """A delivery was committed: ask for processing, within INTAKE_WAKE_WINDOW_MS."""
    if settings.INTAKE_WAKE_WINDOW_MS <= 0:
        request_processing()
    else:
        _coalescer.ask()
