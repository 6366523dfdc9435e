"""Enqueue Celery work after commit without ever failing the business operation.

Celery is the trigger, the database is the truth: if the broker is down the row stays
durable and a beat sweeper re-enqueues it, so a publish error is logged, not raised.
"""

import logging

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task: str | Task, *args, **kwargs) -> None:
    """Publish `task` (a task or its registered name). Services name the task they wake,
    so that the tasks module imports the services and never the other way round; the
    task's routes and the eager setting apply either way."""
    name = task if isinstance(task, str) else task.name
    try:
        if isinstance(task, str):
            task = current_app.tasks[task]
        task.apply_async(args=args, kwargs=kwargs, retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure must not reach the caller
        logger.warning("could not enqueue %s%r (%s); a sweeper will pick it up", name, args, exc)


def enqueue_on_commit(task: str | Task, *args, **kwargs) -> None:
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))
