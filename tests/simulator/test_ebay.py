"""The simulated eBay store's bulk read, spoken to over raw HTTP."""

import time

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


# --- OAuth, getOrder and offer states -----------------------------------------------------

APP = ("sim-app", "sim-cert")


def token(control, store_name: str, form: dict[str, str], client=APP) -> httpx.Response:
    base_url = control.store(store_name)["base_url"]
    return httpx.post(f"{base_url}/identity/v1/oauth2/token", data=form, auth=client)


@pytest.fixture
def expiring(control):
    return control.create_store(
        "ebay",
        "exp",
        levels=LEVELS,
        rate_limit=False,
        token_lifetime_seconds=1,
        credentials={"client_id": APP[0], "client_secret": APP[1], "refresh_token": "r-1"},
    )


def read_with(store, access_token: str) -> httpx.Response:
    return httpx.post(
        f"{store['base_url']}/sell/inventory/v1/bulk_get_inventory_item",
        json={"requests": [{"sku": "MUG"}]},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def test_a_refresh_token_mints_a_user_token_that_expires(control, expiring):
    answer = token(control, "exp", {"grant_type": "refresh_token", "refresh_token": "r-1"})

    assert answer.status_code == 200
    grant = answer.json()
    assert grant["expires_in"] == 1 and grant["token_type"] == "User Access Token"
    assert read_with(expiring, grant["access_token"]).status_code == 200
    time.sleep(1.1)
    assert read_with(expiring, grant["access_token"]).status_code == 401
    assert expiring["channel"]["credentials"] == {
        "client_id": APP[0],
        "client_secret": APP[1],
        "refresh_token": "r-1",
    }


def test_a_revoked_refresh_token_is_an_invalid_grant(control, expiring):
    answer = token(control, "exp", {"grant_type": "refresh_token", "refresh_token": "r-0"})

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_the_wrong_client_secret_is_an_invalid_client(control, expiring):
    answer = token(
        control, "exp", {"grant_type": "client_credentials", "scope": "s"}, ("sim-app", "x")
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_an_application_token_reads_public_keys_but_no_seller_data(control, expiring):
    answer = token(
        control,
        "exp",
        {"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"},
    )
    app_token = answer.json()["access_token"]

    assert answer.json()["token_type"] == "Application Access Token"
    assert read_with(expiring, app_token).status_code == 403
    key = httpx.get(
        f"{expiring['base_url']}/commerce/notification/v1/public_key/unknown-kid",
        headers={"Authorization": f"Bearer {app_token}"},
    )
    assert key.status_code == 404  # authorised; the kid is simply not the store's


def test_get_order_serves_the_lines_of_an_order_it_sold(bay, control):
    sold = control.place_order("bay", [{"sku": "MUG", "quantity": 2}])["orders"][0]
    order_url = (
        str(bay.base_url).rstrip("/").replace("sell/inventory/v1", "sell/fulfillment/v1/order")
    )

    answer = bay.get(f"{order_url}/{sold['order_id']}")
    unknown = bay.get(f"{order_url}/00-00000-00000")

    assert answer.status_code == 200
    [line] = answer.json()["lineItems"]
    assert (line["sku"], line["quantity"], line["lineItemId"]) == (
        "MUG",
        2,
        sold["lines"][0]["line_id"],
    )
    assert unknown.status_code == 404


def test_offers_say_whether_they_are_published(control):
    store = control.create_store(
        "ebay", "pub", levels=LEVELS, rate_limit=False, unpublished_skus=["MUG"]
    )
    headers = {"Authorization": f"Bearer {store['channel']['credentials']['access_token']}"}
    offers = f"{store['base_url']}/sell/inventory/v1/offer"

    mug = httpx.get(offers, params={"sku": "MUG"}, headers=headers).json()["offers"][0]
    tee = httpx.get(offers, params={"sku": "TEE-S"}, headers=headers).json()["offers"][0]
    invalid = httpx.get(offers, params={"sku": "S" * 51}, headers=headers)

    assert (mug["status"], "listing" in mug) == ("UNPUBLISHED", False)
    assert (tee["status"], "listing" in tee) == ("PUBLISHED", True)
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["errorId"] == 25707


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"token_lifetime_seconds": -1}, "token_lifetime_seconds"),
        ({"unpublished_skus": "MUG"}, "unpublished_skus"),
    ],
)
def test_bad_ebay_store_options_are_refused(control, options, complaint):
    answer = httpx.post(
        f"{control.url}/_control/stores",
        json={"kind": "ebay", "store": "bad", **options},
    )

    assert answer.status_code == 400
    assert complaint in answer.json()["message"]
