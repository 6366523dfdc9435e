"""Celery tasks: thin, idempotent, take ids, call a service.

Retry timing lives in database rows (`next_attempt_at`), not in Celery countdowns, so
a broker restart loses nothing: the beat sweepers find due rows and enqueue them again.
The services publish these tasks by name (`foundation.queueing.enqueue`): this module
imports them, never the other way round.
"""

from celery import shared_task

from .intake.amazon_poll import amazon_poll_all
from .intake.inbox import (
    inbox_process,
    inbox_process_waiting,
    inbox_purge,
    inbox_sweep,
)
from .propagation.drain import outbox_drain_channel, outbox_sweep
from .reconcile.digest import digest_send_due
from .reconcile.runs import reconcile_channel as reconcile_channel_now
from .reconcile.runs import reconcile_due as reconcile_channels_due


@shared_task(name="channels.tasks.drain_outbox", ignore_result=True)
def drain_outbox(channel_id: int) -> int:
    return outbox_drain_channel(channel_id=channel_id)


@shared_task(name="channels.tasks.process_event", ignore_result=True)
def process_event(event_id: int) -> str | None:
    return inbox_process(event_id=event_id)


@shared_task(name="channels.tasks.process_inbox", ignore_result=True)
def process_inbox() -> int:
    return inbox_process_waiting()


@shared_task(name="channels.tasks.sweep_inbox", ignore_result=True)
def sweep_inbox() -> int:
    return inbox_sweep()


@shared_task(name="channels.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    return outbox_sweep()


@shared_task(name="channels.tasks.poll_amazon_notifications", ignore_result=True)
def poll_amazon_notifications() -> int:
    return amazon_poll_all()


@shared_task(name="channels.tasks.purge_inbox", ignore_result=True)
def purge_inbox() -> int:
    return inbox_purge()


@shared_task(name="channels.tasks.reconcile_channel", ignore_result=True)
def reconcile_channel(channel_id: int) -> int | None:
    run = reconcile_channel_now(channel_id=channel_id)
    return run.pk if run is not None else None


@shared_task(name="channels.tasks.reconcile_due", ignore_result=True)
def reconcile_due() -> int:
    return len(reconcile_channels_due())


@shared_task(name="channels.tasks.send_digest", ignore_result=True)
def send_digest() -> int | None:
    digest = digest_send_due()
    return digest.pk if digest is not None else None
