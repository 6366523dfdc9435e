"""certify --channels: the merchant's own stores, here simulator stores set up as a
merchant would (the hub's channels made through channels.services, not by certify, and
the test SKUs created in the store by hand), with and without --allow-writes."""

from __future__ import annotations

import secrets

import pytest

from certify.models import CertifyRun
from certify.workspace import SKU_KEY_PREFIX, sku_code
from channels.models import Channel, ChannelAudit, Listing, OutboxEntry
from channels.services import channel_create
from channels.webhooks.signing import make_standard_secret
from ledger.models import Sku, StockLevel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

BULK = 40  # conftest.SMALL's --bulk-skus
TEST_SKUS = {sku_code("bulk", i): 0 for i in range(1, BULK + 1)}
# A product of the merchant's own in each store: certify must never write to it.
OWN = {"TEE-BLK-M": 7}


@pytest.fixture
def merchant_store(hub, sim):
    """A store the merchant runs (a simulator store) and the hub channel pointing at it."""
    made: list[str] = []

    def make(slug: str, kind: str, levels: dict[str, int]) -> Channel:
        secret = make_standard_secret() if kind == "sandbox" else secrets.token_hex(24)
        described = sim.create_store(
            kind,
            slug,
            levels=levels,
            webhook_url=f"{hub.web_url}/webhooks/{slug}/",
            webhook_secret=secret,
        )
        made.append(slug)
        return channel_create(
            slug=slug,
            kind=kind,
            name=f"Merchant {kind}",
            webhook_secret=secret,
            credentials=described["channel"]["credentials"],
            settings={**described["channel"]["settings"], "base_url": described["base_url"]},
        )

    yield make
    for slug in made:
        sim.delete_store(slug)


def writes(sim, slug: str) -> int:
    return sim.stats()["stores"].get(slug, {}).get("writes", 0)


def test_allow_writes_runs_bulk_and_audit_through_the_merchants_adapters(
    certify, sim, merchant_store
):
    merchant_store("shop-sandbox", "sandbox", {**TEST_SKUS, **OWN})
    merchant_store("shop-woo", "woocommerce", {**TEST_SKUS, **OWN})

    run = certify("--channels", "shop-sandbox,shop-woo", "--allow-writes")

    assert run.code == 0, run.out
    assert "certify: PASS (3 skipped: burst, concurrent, recovery)" in run.out
    status = {t["name"]: t["status"] for t in run.report["tests"]}
    assert status == {
        "burst": "skip", "concurrent": "skip", "recovery": "skip", "bulk": "pass", "audit": "pass",
    }  # fmt: skip
    for name in ("burst", "concurrent", "recovery"):
        assert "skipped against real stores" in run.report["skipped"][name]
        assert "only on its own simulator" in run.report["skipped"][name]
    bulk = run.test("bulk")["figures"]
    assert bulk["listings"] == 2 * BULK and bulk["unconfirmed_listings"] == 0
    assert bulk["rate_limit_violations"] == 0
    assert "throttled the hub" in bulk["rate_limit_measured"]
    assert bulk["stores_not_showing_the_receipt"] == 0
    # The stores agree: no request over their limits, and certify did write to them.
    stats = sim.stats()["stores"]
    assert stats["shop-sandbox"]["rate_limit_violations"] == 0
    assert stats["shop-woo"]["rate_limit_violations"] == 0
    assert writes(sim, "shop-sandbox") > 0 and writes(sim, "shop-woo") > 0
    audit = run.test("audit")
    assert audit["figures"]["sku"] == sku_code("bulk", 1)
    assert {"movement", "push", "confirmation"} <= set(audit["figures"]["steps_found"])
    assert run.report["channels"] == [
        {"slug": "shop-sandbox", "kind": "sandbox"},
        {"slug": "shop-woo", "kind": "woocommerce"},
    ]
    # Clean-up: the stores show 0 for the test SKUs, the hub lists them nowhere and holds
    # no test stock; the merchant's own product was never touched; the output says what
    # stays in the stores.
    for slug in ("shop-sandbox", "shop-woo"):
        levels = sim.levels(slug)
        assert {code: levels[code] for code in TEST_SKUS} == TEST_SKUS
        assert levels["TEE-BLK-M"] == 7
    assert run.report["cleanup"]["stores"]["stores_show_zero"] is True
    assert not Listing.objects.filter(sku__code_key__startswith=SKU_KEY_PREFIX).exists()
    assert not (
        StockLevel.objects.filter(sku__code_key__startswith=SKU_KEY_PREFIX)
        .exclude(on_hand=0, committed=0)
        .exists()
    )
    assert any("left in the stores" in note for note in run.report["notes"])
    assert "Certify cannot delete products from a store" in run.out
    assert Channel.objects.filter(slug__in=["shop-sandbox", "shop-woo"], enabled=True).count() == 2
    print(run.out)  # shown with -s: what a merchant reads


def test_allow_writes_fails_bulk_and_writes_nothing_when_the_store_lacks_the_test_skus(
    certify, sim, merchant_store
):
    channel = merchant_store("shop-bare", "woocommerce", dict(OWN))

    run = certify("--channels", "shop-bare", "--allow-writes", "--tests", "bulk")

    assert run.code == 1, run.out
    assert run.report["failed"] == ["bulk"]
    reasons = " ".join(run.test("bulk")["reasons"])
    assert "does not carry 40 of the 40 test SKUs" in reasons
    assert f"{sku_code('bulk', 1)} to {sku_code('bulk', BULK)}" in reasons
    assert "stock management on" in reasons  # what to create, in WooCommerce's words
    assert run.test("bulk")["detail"]["missing_in_store"]["shop-bare"][0] == sku_code("bulk", 1)
    # Nothing was written: no push, no listing of a test SKU, the store as it was.
    assert writes(sim, "shop-bare") == 0
    assert not OutboxEntry.objects.filter(channel=channel).exists()
    assert not Listing.objects.filter(channel=channel, sku__code_key__startswith=SKU_KEY_PREFIX)
    assert sim.levels("shop-bare") == OWN


def test_read_only_writes_nothing_and_says_what_it_skipped(certify, sim, merchant_store):
    channel = merchant_store("shop-ro", "sandbox", {**TEST_SKUS, **OWN})
    before = sim.levels("shop-ro")
    audited = ChannelAudit.objects.filter(channel=channel).count()  # "channel created"

    run = certify("--channels", "shop-ro")

    # Every test was skipped: the run certifies nothing, and says so in its exit status.
    assert run.code == 1, run.out
    assert run.report["status"] == "fail" and run.report["failed"] == []
    assert "certify: FAIL (nothing certified: every test was skipped)" in run.out
    skipped = run.report["skipped"]
    assert set(skipped) == {"burst", "concurrent", "recovery", "bulk", "audit"}
    assert "places a burst of orders on the store" in skipped["burst"]
    assert "--allow-writes" in skipped["bulk"] and "may write nothing" in skipped["bulk"]
    assert f"{sku_code('bulk', 1)} to {sku_code('bulk', BULK)}" in skipped["bulk"]
    assert "read-only run against shop-ro: nothing is written" in run.out
    # Nothing written to the channel, nor anything in the hub that would be pushed.
    assert sim.levels("shop-ro") == before
    assert writes(sim, "shop-ro") == 0
    assert not OutboxEntry.objects.exists()
    assert ChannelAudit.objects.filter(channel=channel).count() == audited
    assert not Sku.objects.filter(code_key__startswith=SKU_KEY_PREFIX).exists()


def test_an_unknown_channel_is_a_clear_error(certify, merchant_store):
    merchant_store("shop-known", "sandbox", dict(OWN))

    run = certify("--channels", "shop-known,no-such-shop", "--allow-writes")

    assert run.code == 2
    assert run.report == {}
    error = CertifyRun.objects.get().error
    assert "no such channel: no-such-shop" in error
    assert "shop-known" in error  # the channels there are
