"""The Celery app: `celery -A inventory_hub worker` / `celery -A inventory_hub beat`.

Celery is the trigger, PostgreSQL is the truth: every task takes ids, re-reads rows
and is safe to run twice. Broker settings come from `inventory_hub.settings`.
"""

import logging
import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init
from celery.worker.consumer import Consumer as CeleryConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")

logger = logging.getLogger(__name__)

app = Celery("inventory_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.worker_consumer = "inventory_hub.celery:Consumer"
app.autodiscover_tasks()


class Consumer(CeleryConsumer):
    """Celery's consumer, except that the remains of a lost broker connection can never
    stop the worker.

    With the Redis transport (kombu 5.7), when the connection is lost while a task is in
    flight (acks_late: its message is unacknowledged), closing the lost connection detaches
    its transport, and whatever then touches that connection's channel looks the broker's
    address up on the detached transport: `AttributeError: 'NoneType' object has no
    attribute 'hostname'`. It happened in two places: the close itself (putting the
    unacknowledged message back, when the first close had failed on the pending BRPOP),
    and the acknowledgement of the task in flight once it finished, after the reconnect.
    Celery lets only connection errors pass there, so the worker stopped for good
    ("Unrecoverable error"). Both are best effort: a message that cannot be put back or
    acknowledged is redelivered by Redis after the visibility timeout (tasks are safe to
    run twice), and the beat sweepers re-enqueue the rows it was about anyway."""

    def on_connection_error_after_connected(self, exc):
        connection = self.connection
        if connection is not None:
            connection.close = _best_effort(connection.close, "closing the lost broker connection")
        super().on_connection_error_after_connected(exc)

    def call_soon_ack(self, p, *args, **kwargs):
        return super().call_soon_ack(_best_effort(p, "acknowledging a message"), *args, **kwargs)


def _best_effort(operation, what: str):
    def run(*args, **kwargs):
        try:
            return operation(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - see Consumer
            logger.warning("%s failed, the broker connection is gone: %r", what, error)
            return None

    return run


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task=None, **kwargs) -> None:
    """Around each task, what Django does around each request: close a connection that is
    broken, left in a transaction or older than CONN_MAX_AGE, keep the others (the
    settings' CELERY_DB_REUSE_MAX stops Celery from closing them all). Not for eager
    tasks, which run inside their caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
@beat_init.connect
def _prepare_var_dir(**kwargs) -> None:
    """A worker or beat of the embedded default needs the broker's folders (and the kept
    keys) under var/; importing the app must not write them."""
    from foundation import var

    var.prepare()
