"""The control API: stores, stock behind the hub's back, faults, counters, the command."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simulator.client import SimulatorError

LEVELS = {"TEE-S": 5, "MUG": 3}
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_health(control):
    assert control.health() == {"status": "ok", "stores": 0}


def test_creating_a_store_describes_how_to_reach_it(control, simulator):
    store = control.create_store("shopify", "shop", levels=LEVELS)

    assert store["base_url"] == f"{simulator.url}/shopify/shop"
    assert store["levels"] == LEVELS
    assert set(store["listings"]) == set(LEVELS)
    listing = store["listings"]["MUG"]
    assert listing["external_id"].isdigit()
    assert listing["external_location_id"] == store["channel"]["settings"]["location_id"]
    assert store["channel"]["settings"]["base_url"] == store["base_url"]
    assert store["webhook_secret"]
    assert store["rate_limits"] == {"graphql": {"rate": 100.0, "burst": 1000.0}}


def test_channel_ids_are_stable_across_simulator_runs(control):
    first = control.create_store("woocommerce", "woo", levels=LEVELS)["listings"]
    second = control.create_store("woocommerce", "woo", levels=LEVELS)["listings"]

    assert first == second


def test_a_storefront_store_gets_a_standard_webhooks_secret(control):
    store = control.create_store("standard", "front", levels=LEVELS)

    assert store["webhook_secret"].startswith("whsec_")
    assert store["channel"]["credentials"] == {"webhook_secret": store["webhook_secret"]}


def test_replacing_a_store_starts_it_afresh(control):
    control.create_store("standard", "front", levels=LEVELS)
    control.place_order("front", [{"sku": "MUG", "quantity": 1}])

    control.create_store("standard", "front", levels={"CAP": 1})

    assert control.levels("front") == {"CAP": 1}
    assert control.stats()["stores"]["front"]["webhooks_sent"] == 0


def test_stock_can_be_changed_behind_the_hubs_back(control):
    control.create_store("ebay", "bay", levels=LEVELS)

    assert control.set_levels("bay", {"MUG": 9, "CAP": 2}) == {"TEE-S": 5, "MUG": 9, "CAP": 2}
    assert control.levels("bay") == {"TEE-S": 5, "MUG": 9, "CAP": 2}


def test_stores_can_be_listed_and_deleted(control):
    control.create_store("standard", "one", levels=LEVELS)
    control.create_store("amazon", "two", levels=LEVELS)

    assert sorted(s["store"] for s in control.stores()) == ["one", "two"]
    control.delete_store("one")
    with pytest.raises(SimulatorError) as gone:
        control.levels("one")
    assert gone.value.status == 404


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"kind": "etsy", "store": "s"}, "kind must be one of"),
        ({"kind": "standard", "store": "no spaces"}, "store must be"),
        ({"kind": "standard", "store": "s", "webhook_secret": "plain"}, "whsec_"),
        ({"kind": "standard", "store": "s", "levels": {"A": "7"}}, "must be an integer"),
        ({"kind": "shopify", "store": "s", "rate_limit": {"rate": 1}}, "needs rate and burst"),
        (
            {"kind": "amazon", "store": "s", "rate_limit": {"put": {"rate": 1, "burst": 1}}},
            "no rate-limit bucket",
        ),
        ({"kind": "shopify", "store": "s", "webhook_url": "ftp://x"}, "http"),
    ],
)
def test_invalid_stores_are_refused(control, payload, message):
    answer = httpx.post(f"{control.url}/_control/stores", json=payload)

    assert answer.status_code == 400
    assert message in answer.json()["message"]


def test_unknown_stores_and_paths_answer_404_in_the_channels_shape(control, simulator):
    control.create_store("woocommerce", "woo", levels=LEVELS)

    missing_store = httpx.get(f"{simulator.url}/woocommerce/nope/wp-json/wc/v3/products")
    missing_path = httpx.get(
        f"{simulator.url}/woocommerce/woo/wp-json/wc/v3/coupons", auth=("ck", "cs")
    )
    wrong_kind = httpx.get(f"{simulator.url}/shopify/woo/admin/api/2026-01/graphql.json")
    unknown_kind = httpx.get(f"{simulator.url}/etsy/woo/")

    assert missing_store.status_code == 404 and missing_store.json()["data"]["status"] == 404
    assert missing_path.status_code == 404 and "code" in missing_path.json()
    assert wrong_kind.status_code == 404 and "errors" in wrong_kind.json()
    assert unknown_kind.status_code == 404


def test_faults_are_validated(control):
    control.create_store("standard", "front", levels=LEVELS)

    for faults in ({"error_rate": 2}, {"status": 200}, {"flaky": True}, {"latency_ms": -1}):
        with pytest.raises(SimulatorError) as refused:
            control.set_faults("front", **faults)
        assert refused.value.status == 400
    with pytest.raises(SimulatorError) as unknown:
        control.set_faults("nope", outage=True)
    assert unknown.value.status == 404


def storefront_read(store: dict) -> int:
    """A raw, unauthenticated read: the fault checks come before authentication."""
    return httpx.get(f"{store['base_url']}/inventory").status_code


def test_faults_apply_to_all_stores_or_one(control):
    one = control.create_store("standard", "one", levels=LEVELS)
    two = control.create_store("standard", "two", levels=LEVELS)

    control.set_faults(outage=True)
    assert (storefront_read(one), storefront_read(two)) == (503, 503)
    control.set_faults("two", error_rate=1, status=502)
    assert (storefront_read(one), storefront_read(two)) == (503, 502)
    control.clear_faults("two")
    assert (storefront_read(one), storefront_read(two)) == (503, 503)
    control.clear_faults()
    assert (storefront_read(one), storefront_read(two)) == (401, 401)
    assert control.faults() == {}


def test_an_error_rate_fails_some_calls_and_counts_them(control):
    store = control.create_store("standard", "front", levels=LEVELS, rate_limit=False)
    control.set_faults("front", error_rate=0.5, status=500)

    codes = [storefront_read(store) for _ in range(40)]

    failed = codes.count(500)
    assert 5 < failed < 35
    assert codes.count(401) == 40 - failed
    assert control.stats()["stores"]["front"]["faults_injected"] == failed


def test_latency_slows_api_calls_but_not_the_control_api(control):
    store = control.create_store("standard", "front", levels=LEVELS)
    control.set_faults("front", latency_ms=300)

    started = time.monotonic()
    storefront_read(store)
    api_time = time.monotonic() - started
    started = time.monotonic()
    control.levels("front")
    control_time = time.monotonic() - started

    assert api_time >= 0.3
    assert control_time < 0.2


def test_stats_count_reads_and_writes_and_can_be_reset(control, simulator):
    store = control.create_store("woocommerce", "woo", levels=LEVELS)
    auth = ("ck", "cs")
    httpx.get(f"{store['base_url']}/wp-json/wc/v3/products", params={"sku": "MUG"}, auth=auth)
    httpx.post(
        f"{store['base_url']}/wp-json/wc/v3/products/batch",
        json={
            "update": [{"id": int(store["listings"]["MUG"]["external_id"]), "stock_quantity": 1}]
        },
        auth=auth,
    )

    counters = control.stats()["stores"]["woo"]
    assert (counters["requests"], counters["reads"], counters["writes"]) == (2, 1, 1)
    assert control.reset_stats()["stores"]["woo"]["requests"] == 0
    assert control.levels("woo")["MUG"] == 1


def test_stores_can_be_created_in_process(simulator, control):
    store = simulator.create_store({"kind": "sandbox", "store": "box", "levels": {"MUG": 2}})

    assert store["base_url"] == f"{simulator.url}/sandbox/box"
    assert control.levels("box") == {"MUG": 2}
    with pytest.raises(ValueError, match="kind must be one of"):
        simulator.create_store({"kind": "etsy", "store": "x"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_management_command_serves_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_channels", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_control/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert f"listening on http://127.0.0.1:{port}" in process.stdout.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_malformed_api_call_is_the_channels_400(control, simulator):
    store = control.create_store("woocommerce", "woo", levels=LEVELS)

    answer = httpx.post(
        f"{store['base_url']}/wp-json/wc/v3/products/batch",
        json={"update": ["not an object"]},
        auth=("ck", "cs"),
    )

    assert answer.status_code == 400
    assert answer.json()["data"]["status"] == 400


def test_an_order_id_is_used_once(control):
    control.create_store("standard", "front", levels={"MUG": 5})
    control.place_order("front", [{"sku": "MUG", "quantity": 1}], order_id="SO-1")

    with pytest.raises(SimulatorError) as again:
        control.place_orders(
            "front",
            [
                {"order_id": "SO-2", "lines": [{"sku": "MUG", "quantity": 1}]},
                {"order_id": "SO-1", "lines": [{"sku": "MUG", "quantity": 1}]},
            ],
        )

    assert again.value.status == 409
    assert control.levels("front") == {"MUG": 4}  # nothing of the refused call was sold
