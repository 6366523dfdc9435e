"""The simulated eBay store's bulk read, spoken to over raw HTTP."""

import httpx
import pytest

LEVELS = {"TEE-S": 5, "MUG": 3}


@pytest.fixture
def bay(control):
    store = control.create_store(
        "ebay", "bay", levels=LEVELS, rate_limit=False, credentials={"access_token": "right"}
    )
    token = store["channel"]["credentials"]["access_token"]
    with httpx.Client(
        base_url=f"{store['base_url']}/sell/inventory/v1",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def bulk_get(client: httpx.Client, skus: list[str]) -> httpx.Response:
    return client.post("bulk_get_inventory_item", json={"requests": [{"sku": s} for s in skus]})


def test_a_bulk_read_answers_every_sku_with_its_own_status(bay, control):
    answer = bulk_get(bay, ["TEE-S", "NOT-LISTED", "MUG"])

    assert answer.status_code == 207
    tee, missing, mug = answer.json()["responses"]
    assert tee["statusCode"] == 200 and tee["sku"] == "TEE-S"
    assert tee["inventoryItem"] == bay.get("inventory_item/TEE-S").json()
    assert tee["inventoryItem"]["availability"]["shipToLocationAvailability"]["quantity"] == 5
    assert mug["inventoryItem"]["availability"]["shipToLocationAvailability"]["quantity"] == 3
    assert missing["statusCode"] == 404 and missing["sku"] == "NOT-LISTED"
    assert missing["errors"][0]["errorId"] == 25702
    stats = control.stats()["stores"]["bay"]
    assert (stats["requests"], stats["reads"], stats["writes"]) == (2, 2, 0)


def test_a_bulk_read_of_known_skus_is_200(bay):
    answer = bulk_get(bay, ["TEE-S", "MUG"])

    assert answer.status_code == 200
    assert [r["statusCode"] for r in answer.json()["responses"]] == [200, 200]


def test_more_than_25_skus_are_refused(bay, control):
    answer = bulk_get(bay, [f"SKU-{n}" for n in range(26)])

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["errorId"] == 25727
    assert control.log("bay")[-1]["items"] == 26


@pytest.mark.parametrize("body", [{}, {"requests": []}, {"requests": "TEE-S"}])
def test_a_bulk_read_without_requests_is_refused(bay, body):
    assert bay.post("bulk_get_inventory_item", json=body).status_code == 400


def test_a_bulk_read_needs_a_json_content_type(bay):
    answer = bay.post(
        "bulk_get_inventory_item",
        content=b'{"requests": [{"sku": "MUG"}]}',
        headers={"Content-Type": "text/plain"},
    )

    assert answer.status_code == 415


def test_a_bulk_read_needs_the_token(bay):
    answer = bay.post(
        "bulk_get_inventory_item",
        json={"requests": [{"sku": "MUG"}]},
        headers={"Authorization": "Bearer wrong"},
    )

    assert answer.status_code == 401


def test_a_bulk_read_takes_one_token_however_many_skus(control):
    store = control.create_store(
        "ebay", "slow", levels=LEVELS, rate_limit={"rate": 0.01, "burst": 2}
    )
    token = store["channel"]["credentials"]["access_token"]
    url = f"{store['base_url']}/sell/inventory/v1/bulk_get_inventory_item"
    body = {"requests": [{"sku": f"SKU-{n}"} for n in range(25)]}

    codes = [
        httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code
        for _ in range(3)
    ]

    assert codes == [207, 207, 429]
    assert control.stats()["stores"]["slow"]["rate_limit_violations"] == 1


def test_faults_apply_to_the_bulk_read(bay, control):
    control.set_faults("bay", error_rate=1, status=502)

    answer = bulk_get(bay, ["MUG"])

    assert answer.status_code == 502
    assert control.stats()["stores"]["bay"]["faults_injected"] == 1
