"""Redis and the Celery queues of a benchmark, kept apart from anything else on the server.

Two ways: `private_task_queues()` renames the queues this process publishes to (nobody
consumes them: the publish is measured as production pays it); `dedicated_redis_db(n)`
gives the hub's subprocesses a Redis database of their own, which must be empty at the
start and is flushed at the end, so no development worker can pick up a task that names
a row of a throwaway database.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .report import BenchError, log

# The queues the hub's Celery app publishes to (settings.CELERY_TASK_ROUTES + default).
SERVER_QUEUES = ("intake", "propagate", "reconcile", "default")


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def redis_db_url(db: int) -> str:
    """REDIS_URL with another database number."""
    return urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{db}").geturl()


def queue_lengths(client, names: tuple[str, ...] | list[str] = SERVER_QUEUES) -> dict[str, int]:
    return {name: int(client.llen(name)) for name in names}


@contextmanager
def dedicated_redis_db(db: int) -> Iterator[tuple[str, Any]]:
    """Yield (url, client) of Redis database `db`, which must be empty; flushed at the end
    (call client.flushdb() in between to separate scenarios)."""
    import redis

    url = redis_db_url(db)
    client = redis_client(url)
    try:
        if client.dbsize():
            raise BenchError(
                f"Redis database {db} is not empty: someone uses it. Pick another one with "
                "--redis-db."
            )
    except redis.RedisError as exc:
        client.close()
        raise BenchError(f"Redis at {url} does not answer: {exc}") from exc
    try:
        yield url, client
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
        client.close()


@contextmanager
def private_task_queues() -> Iterator[list[str]]:
    """Route every task this process publishes to `bench_<pid>_<queue>`: publishing costs
    the same, nobody consumes. Yields the queue names; they (and kombu's bindings) are
    deleted from the broker on the way out."""
    from django.conf import settings

    from inventory_hub.celery import app

    prefix = f"bench_{os.getpid()}_"
    routes = dict(settings.CELERY_TASK_ROUTES)
    queues = sorted({route["queue"] for route in routes.values()} | {app.conf.task_default_queue})
    app.conf.task_routes = {
        task: {**route, "queue": prefix + route["queue"]} for task, route in routes.items()
    }
    app.conf.task_default_queue = prefix + app.conf.task_default_queue
    names = [prefix + queue for queue in queues]
    try:
        yield names
    finally:
        _delete_queues(names)


def broker_lengths(names: list[str]) -> dict[str, int]:
    """Queue lengths on the broker at REDIS_URL ({} without one)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return {}
    client = redis_client(url)
    try:
        return queue_lengths(client, names)
    finally:
        client.close()


def _delete_queues(names: list[str]) -> None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    import redis

    client = redis_client(url)
    try:
        client.delete(*names, *(f"_kombu.binding.{name}" for name in names))
    except redis.RedisError as exc:  # cleanup only; the throwaway Redis goes away anyway
        log(f"could not delete the benchmark queues: {exc}")
    finally:
        client.close()


class QueueSampler:
    """LLEN of the hub's Celery queues every 0.5 s while a scenario runs."""

    def __init__(self, url: str) -> None:
        self.client = redis_client(url)
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):
                self.samples.append((time.monotonic(), queue_lengths(self.client)))

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for queue in ("intake", "propagate"):
            values = [sample[queue] for _, sample in self.samples]
            if values:
                out[queue] = {"max": max(values), "mean": round(sum(values) / len(values), 1)}
        return out


class PublishCounter:
    """Counts the Celery tasks this process publishes (Celery's before_task_publish)."""

    def __init__(self) -> None:
        from celery.signals import before_task_publish

        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        before_task_publish.connect(self._count, weak=False)

    def _count(self, sender: str | None = None, **kwargs: Any) -> None:
        with self._lock:
            self.counts[str(sender).rsplit(".", 1)[-1]] += 1

    def take(self) -> dict[str, int]:
        """The counts since the last take()."""
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts
