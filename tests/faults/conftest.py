"""The hub as the Procfile runs it, on a private Redis and the pytest database, with two
channels on the simulator that send their orders to it over HTTP."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from channels.models import Channel
from tests.channels.conftest import sim, simulator  # noqa: F401 - fixtures used here
from tests.faults.support import (
    INTAKE,
    PROPAGATE,
    FastBeat,
    PrivateRedis,
    celery_broker,
    connect,
    flow_control_redis,
    free_port,
    kill_group,
    redis_binary,
    start_web,
    start_worker,
    stock,
    tail,
    wait_until,
    web_ready,
    worker_ready,
)

SKUS = {"TEE": 10_000, "MUG": 10_000, "CAP": 10_000}
# Short enough for a test: a push retried after a failure, a claim (and the drainer's
# lease) of a killed worker freed after 5 s instead of 90.
CHANNEL_SETTINGS = {"timeout_seconds": 5, "retry_schedule_seconds": [0.5, 1] + [2] * 20}
CLAIM_LEASE_SECONDS = "5"


@dataclass
class Hub:
    redis: PrivateRedis
    directory: Path
    web_port: int
    channels: list[Channel]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def start(self, *names: str) -> None:
        """Start these processes (at once) and wait until each serves: what a restart
        policy does for a process that died."""
        ready = {name: self._spawn(name) for name in names}
        for name, serves in ready.items():

            def serving(name=name, serves=serves) -> bool:
                assert self.alive(name), f"{name} exited:\n{tail(self.log(name))}"
                return serves()

            wait_until(serving, 60, f"{name} to serve")

    def _spawn(self, name: str) -> Callable[[], bool]:
        log = self.log(name)
        if name == "web":
            self.procs[name] = start_web(self.redis.url, log, self.web_port)
            return lambda: web_ready(self.web_port)
        options = INTAKE if name == "intake" else PROPAGATE
        offset = len(log.read_text()) if log.exists() else 0
        self.procs[name] = start_worker(
            self.redis.url, log, options, OUTBOX_CLAIM_LEASE_SECONDS=CLAIM_LEASE_SECONDS
        )
        return lambda: worker_ready(log, offset)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def kill(self, name: str) -> None:
        """kill -9, of the worker and its pool's processes."""
        kill_group(self.procs[name])

    def stop_all(self) -> None:
        for proc in self.procs.values():  # all at once, then wait for each
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group(proc)

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{tail(self.log(name), 30)}" for name in self.procs)


@pytest.fixture
def hub(transactional_db, simulator, sim, tmp_path, monkeypatch) -> Iterator[Hub]:  # noqa: F811
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server: set TEST_REDIS_SERVER (scripts/services.py run does)")
    monkeypatch.setenv("CHANNEL_ALLOW_PRIVATE_NETWORKS", "1")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    beat = FastBeat()
    with contextlib.ExitStack() as stack:
        stack.callback(server.kill)
        stack.enter_context(celery_broker(server.url, server.port))
        stack.enter_context(flow_control_redis(server.url))
        web_port = free_port()
        channels = [
            connect(
                sim,
                kind,
                slug,
                levels=dict.fromkeys(SKUS, 0),
                webhook_url=f"http://127.0.0.1:{web_port}/webhooks/{slug}/",
                **CHANNEL_SETTINGS,
            )  # fmt: skip
            for kind, slug in (("sandbox", "web"), ("shopify", "shop"))
        ]
        stock(SKUS)
        hub = Hub(redis=server, directory=tmp_path, web_port=web_port, channels=channels)
        stack.callback(hub.stop_all)
        hub.start("web", "intake", "propagate")
        beat.start()
        stack.callback(beat.stop)
        yield hub
