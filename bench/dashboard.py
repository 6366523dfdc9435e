"""Server time of the dashboard's busiest pages at catalogue scale.

    python3 scripts/services.py run -- uv run python -m bench.dashboard [--requests 60]

The pages, as a signed-in Admin asks for them (Django's test client in this process: the
whole request, middleware, queries and template rendering, no network): the stock list's
first page, a search and a filter (both the htmx partial the search box asks for), a SKU
page, and the drift queue (the open rows, and filtered by channel and severity).

Each page is measured twice: first with a small catalogue (`--small` SKUs), then with
`--skus` SKUs on 4 channels and `--drift` drift rows. The target: p95 under 150 ms at
scale, and the same number of queries at both sizes (a page whose queries grow with the
catalogue would show it here). One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.harness import inprocess
from bench.harness.report import log
from bench.harness.stats import summary

TARGET_P95_MS = 150.0
CHANNELS = 4
PAGES = {
    "stock_first_page": ("/", False),
    "stock_search": (f"/?q=sku-{4217:07d}", True),
    "stock_filter": ("/?q=red", True),
    "sku_page": (f"/skus/SKU-{4217:07d}/", False),
    "drift_queue": ("/drift/", False),
    "drift_filtered": ("/drift/?status=open&severity=minor&channel=shop-2", False),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100, help="SKUs of the small catalogue")
    parser.add_argument("--drift", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests per page")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def grow(indices: list[int], drift_rows: int) -> None:
    """SKUs numbered `indices` with stock at the default location, listed on every channel,
    and `drift_rows` drift rows on their listings. Written in bulk (the services would take
    an hour for 100,000 SKUs; what is measured is reading, not writing)."""
    from django.db import transaction
    from django.utils import timezone

    from channels.models import Channel, Drift, Listing, ListingState
    from ledger.models import Sku, StockLevel
    from ledger.services import location_default

    place = location_default()
    channels = list(Channel.objects.order_by("slug"))
    colours = ["red", "blue", "green", "black", "white"]
    severities = ["minor", "major", "critical"]
    now = timezone.now()
    batch, drifted = 5000, 0
    for low in range(0, len(indices), batch):
        chunk = indices[low : low + batch]
        with transaction.atomic():
            skus = Sku.objects.bulk_create(
                [
                    Sku(
                        code=f"SKU-{i:07d}",
                        code_key=f"sku-{i:07d}",
                        title=f"Tee, {colours[i % 5]}, size {i % 7}",
                    )
                    for i in chunk
                ]
            )
            StockLevel.objects.bulk_create(
                [
                    StockLevel(sku=sku, location=place, on_hand=20, committed=n % 3)
                    for n, sku in enumerate(skus)
                ]
            )
            listings = Listing.objects.bulk_create(
                [
                    Listing(
                        channel=channel,
                        sku=sku,
                        published=17,
                        confirmed=17,
                        confirmed_at=now,
                        state=ListingState.IN_SYNC,
                    )
                    for sku in skus
                    for channel in channels
                ]
            )
            wanted = listings[: max(0, drift_rows - drifted)]
            Drift.objects.bulk_create(
                [
                    Drift(
                        channel_id=listing.channel_id,
                        listing=listing,
                        sku_id=listing.sku_id,
                        hub_quantity=17,
                        channel_quantity=18 + n % 4,
                        severity=severities[n % 3],
                        reasoning="The channel reported another level in an inventory webhook.",
                    )
                    for n, listing in enumerate(wanted)
                ]
            )
            drifted += len(wanted)
        log(f"catalogue: +{low + len(chunk)} SKUs, {drifted} drift rows")


def measure(client, url: str, htmx: bool, *, requests: int, warmup: int) -> dict[str, Any]:
    from django.db import connection

    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for _ in range(warmup):
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
    captured = []

    def count(execute, sql, params, many, context):
        captured.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url, **headers)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"queries": len(captured), "ms": summary(times)}


MEASURED_SKU = 4217


def run(args: argparse.Namespace) -> dict:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    from channels.services import channel_create
    from ledger.services import location_default

    setup_test_environment()  # the test client's host is allowed
    location_default()
    for i in range(CHANNELS):
        channel_create(slug=f"shop-{i}", kind="sandbox", name=f"Shop {i}")
    person = User.objects.create(username="bench-admin")
    person.groups.add(Group.objects.get(name="Admin"))
    client = Client()
    client.force_login(person)
    small = sorted(set(range(args.small)) | {MEASURED_SKU})
    large = [i for i in range(args.skus) if i not in set(small)]
    small_drift = max(1, args.drift * len(small) // args.skus)
    grow(small, small_drift)
    pages: dict[str, dict] = {}
    with override_settings(SECURE_SSL_REDIRECT=False, DEBUG=False):
        for name, (url, htmx) in PAGES.items():
            pages[name] = {"small": measure(client, url, htmx, requests=10, warmup=2)}
        log(f"small catalogue measured ({len(small)} SKUs)")
        grow(large, args.drift - small_drift)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for name, (url, htmx) in PAGES.items():
            measured = measure(client, url, htmx, requests=args.requests, warmup=args.warmup)
            pages[name]["large"] = measured
            pages[name]["same_queries"] = measured["queries"] == pages[name]["small"]["queries"]
            p95 = measured["ms"]["p95"]
            pages[name]["pass"] = (
                pages[name]["same_queries"] and p95 is not None and (p95 < TARGET_P95_MS)
            )
            log(f"{name}: p95 {p95} ms, {measured['queries']} queries")
    return {
        "benchmark": "dashboard",
        "skus": args.skus,
        "channels": CHANNELS,
        "drift_rows": args.drift,
        "target_p95_ms": TARGET_P95_MS,
        "pages": pages,
        "pass": all(page["pass"] for page in pages.values()),
    }


if __name__ == "__main__":
    inprocess.main("dashboard", build_parser(), run)
