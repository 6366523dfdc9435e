"""Where certify finds the hub and the channels: the web process that receives the
simulator's webhooks (the one at --web-url, or gunicorn + Celery workers + beat started
here through the benchmark harness, on this database), and the channel simulator (one
started here on a free port, or --simulator-url)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from bench.harness.processes import Processes
from bench.harness.report import BenchError
from bench.harness.stack import PRODUCTION_WORKERS, Hub, Simulator
from simulator.client import SimulatorClient


class StackError(Exception):
    """Certify cannot run here; the message says why and what to do."""


def answers(url: str) -> bool:
    """Whether a hub answers at url (GET /healthz, any status)."""
    try:
        httpx.get(f"{url.rstrip('/')}/healthz", timeout=3)
    except httpx.HTTPError:
        return False
    return True


def database_url() -> str:
    """DATABASE_URL for processes started here: the database this process uses."""
    if connection.vendor == "postgresql":
        from bench.harness.databases import database_url as pg_url

        return pg_url()
    return os.environ.get("DATABASE_URL", "")


class CertifyHub(Hub):
    """The harness's hub, keeping this process's var/ directory when there is no Redis
    (the embedded broker is a folder there: the workers must read the one we write)."""

    def env(self, log_level: str) -> dict[str, str]:
        env = super().env(log_level)
        if not self.redis_url:
            env["INVENTORY_HUB_VAR_DIR"] = str(settings.VAR_DIR)
            env.pop("REDIS_URL", None)
        return env


@dataclass
class Stack:
    """The processes certify started (stopped by close()) and the URLs it uses."""

    web_url: str = ""
    simulator_url: str = ""
    own_web: bool = False
    own_simulator: bool = False
    tmp: Path | None = None
    procs: Processes = field(default_factory=Processes)
    hub: Hub | None = None
    notes: list[str] = field(default_factory=list)

    def close(self, *, keep_logs: bool = True) -> None:
        """Stop what was started; the logs go too unless they may explain a failure."""
        self.procs.stop()
        if not keep_logs and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def start(
    *, web_url: str, simulator_url: str = "", own_stack: bool = False, need_simulator: bool = True
) -> Stack:
    """Find or start the web process (with workers and beat) and the simulator."""
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="certify-")))
    try:
        if not own_stack and answers(web_url):
            stack.web_url = web_url.rstrip("/")
            stack.notes.append(
                f"hub at {stack.web_url} (already running: its workers process the run)"
            )
        else:
            stack.hub = CertifyHub(
                stack.procs, stack.tmp, "certify", database_url(), settings.REDIS_URL or "",
                server_workers=2, server_threads=4,
                workers=list(PRODUCTION_WORKERS),
            )  # fmt: skip
            stack.hub.start()
            stack.web_url, stack.own_web = stack.hub.url, True
            reason = "--own-stack" if own_stack else f"nothing answered at {web_url}"
            stack.notes.append(
                f"started gunicorn + 3 Celery workers + beat at {stack.web_url} ({reason}); "
                f"logs in {stack.tmp}"
            )
        if need_simulator:
            if simulator_url:
                stack.simulator_url = simulator_url.rstrip("/")
                SimulatorClient(stack.simulator_url).health()
                stack.notes.append(f"simulator at {stack.simulator_url}")
            else:
                sim = Simulator(stack.procs, stack.tmp / "simulator.log")
                sim.close()
                stack.simulator_url, stack.own_simulator = sim.url, True
                stack.notes.append(f"started the channel simulator at {stack.simulator_url}")
    except BenchError as exc:
        stack.close()
        raise StackError(str(exc)) from None
    except Exception:
        stack.close()
        raise
    return stack
