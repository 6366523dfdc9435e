"""The Certify page in Chromium: a merchant starts a run, watches its progress change
without reloading (htmx polls while the run goes), and opens the report when it ends.
The run's process is this test: it writes the progress and the report as `manage.py
certify` does (tests/certify/test_certify.py runs the real one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

from certify.models import CertifyRun, RunStatus
from tests.dashboard.browser_support import CHROMIUM, log_in
from tests.factories import role_user
from tests.faults.support import wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("async_unsafe_orm"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]


def test_a_merchant_starts_a_run_watches_it_and_reads_the_report(
    live_server, transactional_db, browser, monkeypatch
):
    started = []
    monkeypatch.setattr(
        "certify.views.launch",
        lambda command, *, log: started.append(command) or os.getpid(),  # alive: this test
    )
    merchant = role_user("Merchant")
    page = log_in(browser, live_server.url, merchant.username)

    page.goto(f"{live_server.url}/certify/")
    assert page.locator("text=No run yet.").is_visible()
    page.check("input[value=quick]")
    page.click("text=Start a run")
    # The run's number depends on the tests that ran before: read it from the database.
    wait_until(CertifyRun.objects.exists, 10, "the page to create a run", interval=0.05)
    run = CertifyRun.objects.get()
    page.wait_for_selector(f"text=Certify run {run.pk} started.")
    assert started and "--burst-orders" in started[0]  # the quick sizes
    assert page.locator("button:has-text('Start a run')").is_disabled()  # one at a time

    # The run reports progress: the page shows it without a reload.
    CertifyRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        progress={"burst": {"done": 7, "total": 20, "status": "running", "note": "orders"}},
    )
    page.wait_for_selector("#certify-progress >> text=7/20", timeout=5000)
    assert page.locator("#certify-progress h2").inner_text() == f"Run {run.pk}: Running"

    # It ends with a report: the page stops polling and links to it.
    CertifyRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        progress={"burst": {"done": 20, "total": 20, "status": "fail", "note": "p95 6.2 s"}},
        report={"failed": ["burst"], "tests": []},
        report_html="<!doctype html><title>Certify report</title><h1>Burst failed</h1>",
        pid=None,
    )
    page.wait_for_selector("#certify-progress >> text=Read the report", timeout=5000)
    assert not page.locator("#certify-progress").get_attribute("hx-get")
    page.click("#certify-progress >> text=Read the report")
    page.wait_for_selector("h1:has-text('Burst failed')")
    page.go_back()
    page.reload()
    row = page.locator("table.data tbody tr").last
    assert "Failed" in row.inner_text() and "burst" in row.inner_text()
    assert page.locator("button:has-text('Start a run')").is_enabled()
