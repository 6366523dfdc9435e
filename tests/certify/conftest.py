"""One hub stack for the module (gunicorn, the two Celery workers, beat and the
simulator, on the pytest database) and certify run against it at reduced sizes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from certify import stack as certify_stack
from simulator.client import SimulatorClient

# Every test at its smallest: three channels that answer quickly, a handful of orders.
SMALL = [
    "--kinds", "sandbox,standard,woocommerce",
    "--burst-orders", "10", "--burst-seconds", "4",
    "--race-skus", "2",
    "--recovery-orders", "6", "--recovery-seconds", "3", "--recovery-timeout", "90",
    "--bulk-skus", "40", "--bulk-timeout", "60",
    "--settle-seconds", "20",
]  # fmt: skip


@pytest.fixture(scope="module")
def hub(django_db_setup, django_db_blocker) -> Iterator[certify_stack.Stack]:
    with django_db_blocker.unblock():
        started = certify_stack.start(web_url="http://127.0.0.1:1", own_stack=True)
    try:
        yield started
    finally:
        started.close(keep_logs=False)


@pytest.fixture
def sim(hub) -> Iterator[SimulatorClient]:
    client = SimulatorClient(hub.simulator_url)
    client.clear_faults()
    yield client
    client.clear_faults()
    client.close()


class Certified:
    def __init__(self, code: int, out: str, report: dict, html: str) -> None:
        self.code, self.out, self.report, self.html = code, out, report, html

    def test(self, name: str) -> dict:
        return next(t for t in self.report["tests"] if t["name"] == name)


@pytest.fixture
def certify(hub, tmp_path: Path):
    def run(*args: str) -> Certified:
        out = io.StringIO()
        base = tmp_path / "report"
        code = 0
        try:
            call_command(
                "certify",
                "--web-url", hub.web_url, "--simulator-url", hub.simulator_url,
                "--report", str(base), *SMALL, *args,
                stdout=out, stderr=io.StringIO(),
            )  # fmt: skip
        except SystemExit as exc:
            code = exc.code or 0
        json_path, html_path = base.with_suffix(".json"), base.with_suffix(".html")
        report = json.loads(json_path.read_text()) if json_path.exists() else {}
        return Certified(code, out.getvalue(), report, html_path.read_text() if report else "")

    return run
