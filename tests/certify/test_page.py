"""The Certify page: a Merchant starts a run (a subprocess of the command), watches its
progress through the polled partial and reads the report; the report renders in
Chromium with no network at all."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from certify import report
from certify.models import CertifyRun, RunStatus
from tests.factories import role_user

SAMPLE = {
    "certify": 1, "status": "fail", "failed": ["burst"], "skipped": {},
    "started_at": "2026-01-01T00:00:00+00:00", "seconds": 42.0, "run_id": "abc123",
    "notes": ["started the channel simulator"],
    "channels": [{"slug": "certify-abc123-sandbox", "kind": "sandbox"}],
    "cleanup": {}, "machine": {"nproc": 2, "cpu": "test", "memory": "1 GiB"}, "git": "x",
    "tests": [
        {"name": "burst", "title": "Burst propagation", "measures": "10 orders", "status": "fail",
         "figures": {"summary": "p95 6 s", "p95_ms": 6000.0}, "seconds": 5.0,
         "thresholds": [{"label": "p95 < 5 s", "ok": False, "found": "p95 6.00 s <script>"}],
         "reasons": ["p95 < 5 s: p95 6.00 s"], "series": {"latencies_ms": [100.0, 6000.0, None]},
         "detail": {}},
        {"name": "recovery", "title": "Failure recovery", "measures": "one channel failing",
         "status": "pass", "figures": {"summary": "converged"}, "seconds": 9.0, "thresholds": [],
         "reasons": [], "series": {"circuit": [[0.0, "closed"], [1.0, "open"], [2.0, "closed"]]},
         "detail": {}},
        {"name": "bulk", "title": "Bulk receipt", "measures": "40 SKUs", "status": "pass",
         "figures": {"summary": "ok"}, "seconds": 3.0, "thresholds": [], "reasons": [],
         "series": {"confirmed_seconds_per_channel": {"a-sandbox": 1.5, "a-shopify": 3.0}},
         "detail": {}},
        {"name": "audit", "title": "Audit trail", "measures": "SKU X", "status": "pass",
         "figures": {"summary": "ok"}, "seconds": 0.1, "thresholds": [], "reasons": [],
         "series": {}, "detail": {"trail": [{"at": "2026-01-01T00:00:01.000000+00:00",
         "type": "inbound_event", "channel": "a", "summary": "a sent order.created"}]}},
    ],
}  # fmt: skip


@pytest.fixture
def merchant_client(db) -> Client:
    client = Client()
    client.force_login(role_user("Merchant"))
    return client


def test_a_merchant_starts_a_run_in_the_background(
    merchant_client, monkeypatch, settings, tmp_path
):
    started = []

    class FakePopen:
        pid = os.getpid()  # alive, as the run's process would be

        def __init__(self, command, **kwargs):
            started.append(command)

    monkeypatch.setattr("certify.views.subprocess.Popen", FakePopen)
    settings.VAR_DIR = tmp_path / "var"  # a clean clone: not made yet

    answer = merchant_client.post("/certify/", {"size": "quick"})

    assert answer.status_code == 302
    run = CertifyRun.objects.get()
    assert run.pid == os.getpid() and run.status == RunStatus.QUEUED
    assert started[0][1:5] == ["manage.py", "certify", "--run-id", str(run.pk)]
    assert "--burst-orders" in started[0]  # quick
    assert (tmp_path / "var" / f"certify-run-{run.pk}.log").exists()
    # A second one waits for the first...
    merchant_client.post("/certify/", {"size": "full"})
    assert CertifyRun.objects.count() == 1
    # ...unless the first one's process is gone.
    CertifyRun.objects.filter(pk=run.pk).update(pid=2**22 + 1)
    merchant_client.post("/certify/", {"size": "full"})
    assert CertifyRun.objects.count() == 2
    assert CertifyRun.objects.get(pk=run.pk).status == RunStatus.ERROR


def test_the_progress_partial_polls_while_a_run_goes(merchant_client):
    CertifyRun.objects.create(
        status=RunStatus.RUNNING,
        progress={"burst": {"done": 12, "total": 50, "status": "running", "note": "orders"}},
    )

    page = merchant_client.get("/certify/")
    partial = merchant_client.get("/certify/", headers={"HX-Request": "true"})

    assert page.status_code == 200 and b"Start a run" in page.content
    assert b'hx-trigger="every 1s"' in partial.content
    assert b"12/50" in partial.content and b"Start a run" not in partial.content


def test_the_report_is_served_with_nothing_else_allowed(merchant_client):
    run = CertifyRun.objects.create(
        status=RunStatus.FAILED, report=SAMPLE, report_html=report.html(SAMPLE)
    )

    answer = merchant_client.get(f"/certify/runs/{run.pk}/report/")

    assert answer.status_code == 200
    assert b"Burst propagation" in answer.content
    assert b"<script>" not in answer.content  # escaped
    policy = answer["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy


def test_a_viewer_may_not_start_a_run(db):
    client = Client()
    client.force_login(role_user("Viewer"))
    assert client.post("/certify/", {"size": "quick"}).status_code == 403
    assert not CertifyRun.objects.exists()


def test_the_terminal_table_names_what_failed_and_why():
    text = report.table(SAMPLE)
    assert "burst" in text and "FAIL" in text and "p95 6.00 s" in text
    assert text.splitlines()[-1].startswith("certify: FAIL (burst)")


@pytest.fixture
def launched(monkeypatch, settings, tmp_path) -> list[list[str]]:
    """The commands the page would start (nothing runs)."""
    started: list[list[str]] = []
    monkeypatch.setattr(
        "certify.views.launch", lambda command, *, log: started.append(command) or os.getpid()
    )
    settings.VAR_DIR = tmp_path
    return started


@pytest.fixture
def own_store(db):
    from channels.services import channel_create

    channel_create(
        slug="my-shop", kind="sandbox", name="My shop", settings={"base_url": "https://s.example"}
    )
    channel_create(slug="certify-9-sandbox", kind="sandbox", name="Certify's own")


def test_the_page_offers_the_merchants_stores_and_writing_only_to_an_admin(
    merchant_client, own_store
):
    page = merchant_client.get("/certify/").content.decode()
    assert 'value="my-shop"' in page and "certify-9-sandbox" not in page
    assert 'name="allow_writes" disabled' in page and "Only an Admin may." in page

    admin = Client()
    admin.force_login(role_user("Admin"))
    page = admin.get("/certify/").content.decode()
    assert 'name="allow_writes" disabled' not in page


def test_a_merchant_runs_read_only_against_a_chosen_store(merchant_client, own_store, launched):
    merchant_client.post("/certify/", {"size": "quick", "channels": ["my-shop"]})

    [command] = launched
    assert command[command.index("--channels") + 1] == "my-shop"
    assert "--allow-writes" not in command
    run = CertifyRun.objects.get()
    assert run.options == {"size": "quick", "channels": ["my-shop"], "allow_writes": False}


def test_an_admin_lets_a_run_write_to_a_chosen_store(own_store, launched):
    admin = Client()
    admin.force_login(role_user("Admin"))

    admin.post("/certify/", {"size": "full", "channels": ["my-shop"], "allow_writes": "on"})

    [command] = launched
    assert "--allow-writes" in command and "--channels" in command


@pytest.mark.parametrize(
    ("role", "form", "message"),
    [
        ("Merchant", {"channels": ["my-shop"], "allow_writes": "on"}, "Only an Admin may"),
        ("Admin", {"allow_writes": "on"}, "needs at least one of them chosen"),
        ("Admin", {"channels": ["nope"]}, "No enabled channel nope"),
        ("Admin", {"channels": ["certify-9-sandbox"]}, "No enabled channel certify-9-sandbox"),
    ],
)
def test_a_refused_choice_starts_nothing_and_says_why(own_store, launched, role, form, message):
    client = Client()
    client.force_login(role_user(role))

    answer = client.post("/certify/", {"size": "quick", **form}, follow=True)

    assert message in answer.content.decode()
    assert launched == [] and not CertifyRun.objects.exists()


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no /usr/bin/chromium")
def test_the_html_report_renders_in_chromium_without_network():
    from playwright.sync_api import sync_playwright

    from tests.certify.test_certify import REPORTS
    from tests.dashboard.browser_support import CHROMIUM, CHROMIUM_ARGS

    html = REPORTS.get("pass") or report.html(SAMPLE)
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.set_content(html, wait_until="load")
            assert page.locator("h1").inner_text().startswith("Inventory Hub")
            charts = page.locator("svg")
            assert charts.count() >= 1
            box = charts.first.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 30
            page.screenshot(path="/tmp/certify-report.png", full_page=True)
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith(("about:", "data:"))] == []
