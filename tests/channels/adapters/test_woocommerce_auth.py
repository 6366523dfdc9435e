"""WooCommerce's two documented ways to send the consumer key and secret over HTTPS: the
Authorization header (default) or the query string, for hosts that strip the header."""

import pytest

from channels.adapters import ListingRef, adapter_for
from channels.adapters.base import ChannelNeedsAction
from channels.models import Channel
from channels.services import InvalidChannel, channel_create


def adapter(store, **settings):
    return adapter_for(
        "woocommerce",
        base_url=store["base_url"],
        credentials=store["channel"]["credentials"],
        settings={**store["channel"]["settings"], **settings},
        timeout=5,
    )


def test_a_host_that_strips_the_header_is_reached_through_the_query(control):
    store = control.create_store(
        "woocommerce",
        "stripped",
        levels={"MUG": 4},
        strip_authorization=True,
        credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"},
        rate_limit=False,
    )
    with adapter(store) as header, adapter(store, auth="query") as query:
        with pytest.raises(ChannelNeedsAction, match="401") as refused:
            header.read_levels([ListingRef(sku="MUG")])
        assert "set the channel's auth setting to query" in refused.value.action
        assert query.read_levels([ListingRef(sku="MUG")]) == {"MUG": 4}
    [*_, last] = control.log("stripped")
    assert last["status"] == 200


def test_query_auth_is_refused_over_plain_http_on_the_internet(control, settings):
    store = control.create_store("woocommerce", "plain", levels={"MUG": 4}, rate_limit=False)
    settings.CHANNEL_ALLOW_PRIVATE_NETWORKS = False
    with (
        adapter(store, auth="query") as query,
        pytest.raises(ChannelNeedsAction, match="plain http") as refused,
    ):
        query._request("GET", "http://shop.example.com/wp-json/wc/v3/products")
    assert "https://" in refused.value.action


def test_an_unknown_auth_mode_asks_the_merchant_to_fix_it(control):
    store = control.create_store("woocommerce", "odd", levels={"MUG": 4}, rate_limit=False)
    with adapter(store, auth="cookie") as odd, pytest.raises(ChannelNeedsAction, match="cookie"):
        odd.read_levels([ListingRef(sku="MUG")])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("auth", "base_url", "allow_private", "complaint"),
    [
        ("cookie", "https://shop.example.com", True, r"settings.auth must be 'header' or 'query'"),
        (True, "https://shop.example.com", True, r"settings.auth must be"),
        ("query", "http://shop.example.com", False, r"needs an https:// base_url"),
    ],
)
def test_bad_auth_settings_are_refused_and_nothing_is_written(
    settings, auth, base_url, allow_private, complaint
):
    settings.CHANNEL_ALLOW_PRIVATE_NETWORKS = allow_private
    with pytest.raises(InvalidChannel, match=complaint) as refused:
        channel_create(
            slug="woo",
            kind="woocommerce",
            name="Woo",
            settings={"base_url": base_url, "auth": auth},
        )
    assert refused.value.detail["field"] == "settings.auth"
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_query_auth_over_https_is_kept():
    channel = channel_create(
        slug="woo",
        kind="woocommerce",
        name="Woo",
        settings={"base_url": "https://shop.example.com", "auth": "query"},
    )
    assert channel.settings["auth"] == "query"
