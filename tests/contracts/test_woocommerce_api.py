"""WooCommerce REST v3 answers (tests/contracts/woocommerce/SOURCES.md) through the
adapter's response handling; an httpx mock transport stands in for the shop."""

import json

import httpx

from channels.adapters import LevelPush, ListingRef, adapter_for
from tests.contracts.support import document


class Site:
    def __init__(self, routes: dict[tuple[str, str], str]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = self.routes[(request.method, request.url.path)]
        return httpx.Response(200, json=document("woocommerce", name))

    def adapter(self, **settings):
        return adapter_for(
            "woocommerce",
            base_url="https://shop.example.com",
            credentials={"consumer_key": "ck_c", "consumer_secret": "cs_c"},
            settings=settings,
            client=httpx.Client(transport=httpx.MockTransport(self)),
        )


API = "/wp-json/wc/v3"


def push(sku, external_id, parent="", quantity=5):
    ref = ListingRef(sku=sku, external_id=external_id, external_parent_id=parent)
    return LevelPush(ref=ref, quantity=quantity, expected=None, key=sku)


def test_a_batch_answer_gives_each_item_its_outcome():
    site = Site({("POST", f"{API}/products/batch"): "api_products_batch_update.json"})

    outcomes = site.adapter().push_levels([push("TEA-TOWEL", "94"), push("GONE", "999")])

    assert [o.status for o in outcomes] == ["accepted", "failed"]
    assert "woocommerce_rest_product_invalid_id" in outcomes[1].error


def test_a_parent_managed_variation_goes_to_its_parent_and_the_other_to_its_batch():
    site = Site(
        {
            ("GET", f"{API}/products/93/variations"): "api_variation_manage_stock_parent.json",
            ("POST", f"{API}/products/93/variations/batch"): "api_variations_batch_update.json",
            ("POST", f"{API}/products/batch"): "api_products_batch_update_parent.json",
        }
    )
    outcomes = site.adapter().push_levels(
        [push("MUG-BLUE", "118", "93", quantity=6), push("MUG-RED", "119", "93", quantity=2)]
    )

    sent = {r.url.path: json.loads(r.content) for r in site.requests if r.method == "POST"}
    assert sent[f"{API}/products/93/variations/batch"] == {
        "update": [{"id": 119, "manage_stock": True, "stock_quantity": 2}]
    }
    assert sent[f"{API}/products/batch"] == {"update": [{"id": 93, "stock_quantity": 6}]}
    assert [o.status for o in outcomes] == ["accepted", "accepted"]


def test_query_auth_sends_the_key_and_secret_as_parameters_not_a_header():
    site = Site({("GET", f"{API}/products"): "api_variation_manage_stock_parent.json"})

    levels = site.adapter(auth="query").read_levels([ListingRef(sku="MUG-BLUE")])

    assert levels == {"MUG-BLUE": 30}  # the parent's number, shown through the variation
    [request] = site.requests
    assert "authorization" not in request.headers
    assert request.url.params["consumer_key"] == "ck_c"
    assert request.url.params["consumer_secret"] == "cs_c"
