"""Celery tasks: thin, idempotent, take ids, call a service.

Retry timing lives in database rows (`next_attempt_at`), not in Celery countdowns, so
a broker restart loses nothing: the beat sweepers find due rows and enqueue them again.
"""

from celery import shared_task


@shared_task(name="channels.tasks.drain_outbox", ignore_result=True)
def drain_outbox(channel_id: int) -> int:
    from .drain import outbox_drain_channel

    return outbox_drain_channel(channel_id=channel_id)


@shared_task(name="channels.tasks.process_event", ignore_result=True)
def process_event(event_id: int) -> str | None:
    from .intake import inbox_process

    return inbox_process(event_id=event_id)


@shared_task(name="channels.tasks.process_inbox", ignore_result=True)
def process_inbox() -> int:
    from .intake import inbox_process_waiting

    return inbox_process_waiting()


@shared_task(name="channels.tasks.sweep_inbox", ignore_result=True)
def sweep_inbox() -> int:
    from .intake import inbox_sweep

    return inbox_sweep()


@shared_task(name="channels.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    from .drain import outbox_sweep

    return outbox_sweep()


@shared_task(name="channels.tasks.poll_amazon_notifications", ignore_result=True)
def poll_amazon_notifications() -> int:
    from .amazon_poll import amazon_poll_all

    return amazon_poll_all()


@shared_task(name="channels.tasks.purge_inbox", ignore_result=True)
def purge_inbox() -> int:
    from .intake import inbox_purge

    return inbox_purge()
