"""Every store enforces its channel's documented rate limit, and counts violations."""

import time

import httpx

from channels.adapters import ChannelThrottled, LevelPush, ListingRef, adapter_for


def test_hammering_a_store_gets_429s_with_retry_after_and_counts_them(control):
    store = control.create_store(
        "woocommerce", "woo", levels={"MUG": 3}, rate_limit={"rate": 1, "burst": 3}
    )
    url = f"{store['base_url']}/wp-json/wc/v3/products"

    answers = [httpx.get(url, params={"sku": "MUG"}, auth=("ck", "cs")) for _ in range(10)]

    codes = [answer.status_code for answer in answers]
    assert codes[:3] == [200, 200, 200]
    throttled = [answer for answer in answers if answer.status_code == 429]
    assert len(throttled) >= 6
    assert all(float(answer.headers["Retry-After"]) > 0 for answer in throttled)
    assert throttled[0].json()["code"] == "rate_limited"
    stats = control.stats()
    assert stats["stores"]["woo"]["rate_limit_violations"] == len(throttled)
    assert stats["rate_limit_violations"] == len(throttled)


def test_the_bucket_refills(control):
    store = control.create_store(
        "standard",
        "front",
        levels={"MUG": 3},
        rate_limit={"rate": 2, "burst": 1},  # slow enough for a busy machine
    )
    with adapter_for(
        "standard",
        base_url=store["base_url"],
        credentials=store["channel"]["credentials"],
        settings=store["channel"]["settings"],
    ) as adapter:
        adapter.read_levels([ListingRef(sku="MUG")])
        try:
            adapter.read_levels([ListingRef(sku="MUG")])
        except ChannelThrottled as exc:
            wait = exc.retry_after
        else:
            raise AssertionError("the second read should have been throttled")
        time.sleep(wait)
        assert adapter.read_levels([ListingRef(sku="MUG")]) == {"MUG": 3}


def test_amazon_enforces_its_documented_limits_per_operation(control):
    store = control.create_store("amazon", "amz", levels={"MUG": 3})
    channel = store["channel"]
    with adapter_for(
        "amazon",
        base_url=store["base_url"],
        credentials=channel["credentials"],
        settings=channel["settings"],
    ) as adapter:
        reads = throttled_reads = 0
        for _ in range(14):  # getListingsItem: burst 10
            try:
                adapter.read_levels([ListingRef(sku="MUG")])
                reads += 1
            except ChannelThrottled:
                throttled_reads += 1
        # patchListingsItem has a bucket of its own (burst 5), untouched by the reads (the
        # listing's product type is known, so the push reads nothing first).
        mapped = ListingRef(**store["listings"]["MUG"])
        [outcome] = adapter.push_levels([LevelPush(mapped, 1, None, "k")])

    assert reads >= 10 and throttled_reads >= 2
    assert outcome.status == "accepted"
    assert control.stats()["stores"]["amz"]["rate_limit_violations"] == throttled_reads


def test_shopify_throttles_by_graphql_cost(control):
    store = control.create_store(
        "shopify", "shop", levels={"MUG": 3}, rate_limit={"rate": 1, "burst": 12}
    )
    url = f"{store['base_url']}/admin/api/2026-01/graphql.json"
    query = {
        "query": "query Q($ids: [ID!]!, $loc: ID!) { nodes(ids: $ids) { ... on InventoryItem "
        '{ id inventoryLevel(locationId: $loc) { quantities(names: ["available"]) '
        "{ name quantity } } } } }",
        "variables": {
            "ids": [f"gid://shopify/InventoryItem/{store['listings']['MUG']['external_id']}"] * 5,
            "loc": "gid://shopify/Location/1",
        },
    }
    headers = {"X-Shopify-Access-Token": "token"}

    first = httpx.post(url, json=query, headers=headers).json()  # costs 11 of 12
    second = httpx.post(url, json=query, headers=headers)

    assert first["data"]["nodes"][0]["inventoryLevel"]["quantities"][0]["quantity"] == 3
    assert first["extensions"]["cost"]["requestedQueryCost"] == 11
    assert second.status_code == 200
    body = second.json()
    assert body["errors"][0]["message"] == "Throttled"
    status = body["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 12 and status["restoreRate"] == 1
    assert control.stats()["stores"]["shop"]["rate_limit_violations"] == 1
