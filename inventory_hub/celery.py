"""The Celery app: `celery -A inventory_hub worker` / `celery -A inventory_hub beat`.

Celery is the trigger, PostgreSQL is the truth: every task takes ids, re-reads rows
and is safe to run twice. Broker settings come from `inventory_hub.settings`.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")

app = Celery("inventory_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
