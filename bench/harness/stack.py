"""The hub's processes as production runs them (gunicorn, Celery workers, beat) and the
channel simulator, started as subprocesses against a benchmark's own database and Redis."""

from __future__ import annotations

import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .databases import SETTINGS_MODULE
from .processes import Proc, Processes, free_port, wait_for, wait_http
from .report import BenchError, log
from .stats import percentile, summary

TASK_LINE = re.compile(r"Task (channels\.tasks\.\w+)\[[^\]]+\] succeeded in ([\d.e-]+)s: (.*)$")


def hub_env(database_url: str, redis_url: str, *, log_level: str, **extra: str) -> dict[str, str]:
    """The environment of a hub process: production settings (DEBUG off) on the given
    database and Redis, holding this process's SECRET_KEY and FIELD_ENCRYPTION_KEY (channel
    secrets are encrypted with them: every process must hold the same)."""
    from django.conf import settings

    env = dict(os.environ)
    for key in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(key, None)
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_TASK_ALWAYS_EAGER="0",
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEY=settings.FIELD_ENCRYPTION_KEY,
        LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
        # Every benchmark's channels are the simulator on loopback.
        CHANNEL_ALLOW_PRIVATE_NETWORKS="1",
        **extra,
    )
    return env


def start_gunicorn(
    procs: Processes,
    name: str,
    app: str,
    *,
    env: dict[str, str],
    log_path: Path,
    workers: int,
    threads: int,
    health_path: str = "/healthz",
) -> tuple[Proc, str]:
    """gunicorn serving the WSGI `app` ("module:callable" or a module with `application`)
    on a free port; returns once GET health_path answers. threads 1 is the sync worker,
    more is gthread (gunicorn's own rule)."""
    port = free_port()
    proc = procs.start(
        name,
        [
            sys.executable, "-m", "gunicorn", app, "--workers", str(workers),
            "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ],
        env,
        log_path,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(name, f"{url}{health_path}", procs, timeout=60)
    log(f"{name} on {url} ({workers} workers x {threads} threads)")
    return proc, url


@dataclass(frozen=True)
class WorkerSpec:
    queues: str
    pool: str
    concurrency: int
    nice: int = 0  # as the Procfile runs the reconcile worker: `nice -n 10`


# The Celery workers as the Procfile runs them.
PRODUCTION_WORKERS = (
    WorkerSpec("intake", "prefork", 1),
    WorkerSpec("propagate,default", "threads", 8),
    WorkerSpec("reconcile", "threads", 4, nice=10),
)


class Hub:
    """gunicorn, Celery workers and beat against one database; logs under `tmp` named
    after `label`."""

    def __init__(
        self, procs: Processes, tmp: Path, label: str, db_url: str, redis_url: str, *,
        server_workers: int, server_threads: int, workers: list[WorkerSpec],
    ) -> None:  # fmt: skip
        self.procs, self.tmp, self.label = procs, tmp, label
        self.db_url, self.redis_url = db_url, redis_url
        self.server_workers, self.server_threads = server_workers, server_threads
        self.workers = workers
        self.url = ""
        self.started: list[Proc] = []
        self.marks: dict[Path, int] = {}

    def env(self, log_level: str) -> dict[str, str]:
        var = self.tmp / "var"
        var.mkdir(exist_ok=True)
        return hub_env(
            self.db_url, self.redis_url, log_level=log_level, INVENTORY_HUB_VAR_DIR=str(var)
        )

    def log(self, name: str) -> Path:
        return self.tmp / f"{self.label}-{name}.log"

    def start(self) -> None:
        py = sys.executable
        for index, spec in enumerate(self.workers):
            self.started.append(
                self.procs.start(
                    f"{self.label} worker {index}",
                    [
                        *(["nice", "-n", str(spec.nice)] if spec.nice else []),
                        py, "-m", "celery", "-A", "inventory_hub", "worker", "-Q", spec.queues,
                        "--pool", spec.pool, "--concurrency", str(spec.concurrency),
                        "-n", f"bench{index}-{os.getpid()}@%h", "--loglevel", "INFO",
                    ],
                    self.env("INFO"),
                    self.log(f"worker-{index}"),
                )
            )  # fmt: skip
        self.started.append(
            self.procs.start(
                f"{self.label} beat",
                [
                    py, "-m", "celery", "-A", "inventory_hub", "beat", "--loglevel", "INFO",
                    "--schedule", str(self.tmp / f"{self.label}-celerybeat-schedule"),
                ],
                self.env("INFO"),
                self.log("beat"),
            )
        )  # fmt: skip
        web, self.url = start_gunicorn(
            self.procs,
            f"{self.label} gunicorn",
            "inventory_hub.wsgi",
            env=self.env("WARNING"),
            log_path=self.log("gunicorn"),
            workers=self.server_workers,
            threads=self.server_threads,
        )
        self.started.append(web)
        for index in range(len(self.workers)):
            path = self.log(f"worker-{index}")
            wait_for(f"worker {index}", lambda path=path: " ready." in path.read_text(), self.procs)
        log(f"{self.label}: hub up at {self.url}")

    def stop(self) -> None:
        self.procs.stop(self.started)
        self.started = []

    def cpu_roots(self) -> dict[str, int]:
        """{process name without the label: pid} of the running processes, for cpu.py."""
        return {
            proc.name.removeprefix(f"{self.label} "): proc.pid
            for proc in self.started
            if proc.popen.poll() is None
        }

    def mark(self) -> None:
        """task_stats() counts what the workers log after this point."""
        for index in range(len(self.workers)):
            path = self.log(f"worker-{index}")
            self.marks[path] = path.stat().st_size

    def task_stats(self) -> dict[str, Any]:
        """From the workers' INFO logs since mark(): tasks run, durations, empty drains."""
        durations: dict[str, list[float]] = defaultdict(list)
        empty_drains = 0
        outcomes: Counter[str] = Counter()
        batch_sizes: list[int] = []
        for index in range(len(self.workers)):
            path = self.log(f"worker-{index}")
            with open(path, "rb") as log_file:
                log_file.seek(self.marks.get(path, 0))
                text = log_file.read().decode(errors="replace")
            for line in text.splitlines():
                match = TASK_LINE.search(line)
                if not match:
                    continue
                name, returned = match.group(1).rsplit(".", 1)[-1], match.group(3).strip()
                durations[name].append(float(match.group(2)) * 1000)
                if name == "drain_outbox" and returned == "0":
                    empty_drains += 1
                if name == "process_event":
                    outcomes[returned] += 1
                if name == "process_inbox" and returned.isdigit():
                    batch_sizes.append(int(returned))
        out: dict[str, Any] = {}
        for name, values in sorted(durations.items()):
            out[name] = {
                "count": len(values),
                "mean_ms": round(sum(values) / len(values), 1),
                "p50_ms": percentile(values, 50),
                "p95_ms": percentile(values, 95),
                "busy_s": round(sum(values) / 1000, 1),
            }
        if "drain_outbox" in out:
            out["drain_outbox"]["handled_nothing"] = empty_drains
        if "process_event" in out:
            out["process_event"]["results"] = dict(outcomes)
        if "process_inbox" in out and batch_sizes:
            out["process_inbox"]["deliveries"] = sum(batch_sizes)
            out["process_inbox"]["deliveries_per_task"] = summary([float(n) for n in batch_sizes])
        return out

    def tracebacks(self) -> int:
        return sum(
            path.read_text(errors="replace").count("Traceback (most recent call last)")
            for path in self.tmp.glob(f"{self.label}-*.log")
        )


class Simulator:
    """The channel simulator (`manage.py simulate_channels`) and a client of its control API."""

    def __init__(self, procs: Processes, log_path: Path, *, nice: int = 0) -> None:
        import httpx

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        prefix = ["nice", "-n", str(nice)] if nice else []
        self.proc = procs.start(
            "simulator",
            [*prefix, sys.executable, "manage.py", "simulate_channels", "--port", str(port)],
            {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE, "LOG_LEVEL": "WARNING"},
            log_path,
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)
        wait_for("simulator", lambda: self.call("GET", "/_control/health"), procs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise BenchError(
                f"simulator {method} {path}: HTTP {response.status_code} {response.text[:300]}"
            )
        return response.json()

    def create_store(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/_control/stores", json=spec)

    def set_latency(self, store: str, latency_ms: float) -> None:
        self.call("POST", "/_control/faults", json={"store": store, "latency_ms": latency_ms})

    def levels(self, store: str) -> dict[str, int]:
        return self.call("GET", f"/_control/stores/{store}/levels")

    def store_stats(self, stores: list[str]) -> dict[str, dict[str, int]]:
        all_stats = self.call("GET", "/_control/stats")["stores"]
        return {name: all_stats.get(name, {}) for name in stores}

    def close(self) -> None:
        self.client.close()


def stats_delta(after: dict, before: dict) -> dict[str, dict[str, int]]:
    """Per store, the simulator's integer counters after minus before."""
    return {
        store: {
            key: value - before.get(store, {}).get(key, 0)
            for key, value in numbers.items()
            if isinstance(value, int)
        }
        for store, numbers in after.items()
    }
