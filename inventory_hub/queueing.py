"""Enqueue Celery work after commit without ever failing the business operation.

Celery is the trigger, the database is the truth: if the broker is down the row stays
durable and a beat sweeper re-enqueues it, so a publish error is logged, not raised.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task, *args, **kwargs) -> None:
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure must not reach the caller
        logger.warning(
            "could not enqueue %s%r (%s); a sweeper will pick it up", task.name, args, exc
        )


def enqueue_on_commit(task, *args, **kwargs) -> None:
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))
