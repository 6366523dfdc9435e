"""The Celery app: `celery -A inventory_hub worker` / `celery -A inventory_hub beat`.

Celery is the trigger, PostgreSQL is the truth: every task takes ids, re-reads rows
and is safe to run twice. Broker settings come from `inventory_hub.settings`.
"""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")

app = Celery("inventory_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
