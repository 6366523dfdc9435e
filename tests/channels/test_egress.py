"""Where a channel's requests, and so its credentials, may go: only an Admin moves a
channel, with its credentials sent again; nothing is sent inside the hub's own network
unless CHANNEL_ALLOW_PRIVATE_NETWORKS is on; a redirect is never followed; what a
channel answers is kept short."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test.utils import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.intake.amazon_poll import amazon_poll_channel
from channels.models import Channel, ChannelAudit, OutboxEntry, OutboxStatus
from channels.propagation.drain import ERROR_LIMIT, outbox_drain_channel
from channels.services import InvalidChannel, channel_create, channel_update
from channels.webhooks.errors import VerificationUnavailable
from channels.webhooks.verify import _ebay_public_key
from foundation import egress
from foundation.egress import EgressRefused, EgressUnresolved, check_outbound_url
from ledger.services import sku_create, stock_receive
from tests.factories import role_user

pytestmark = pytest.mark.django_db

TOKEN = "shpat_the-real-token"
PRIVATE_URLS = [
    "http://127.0.0.1:8025/shop",
    "http://10.0.0.1/shop",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8025/shop",
]


# --- a tiny HTTP server that records what reaches it -------------------------------------


class Recorder:
    """A server on loopback recording every request (method, path, headers), answering
    what ``answer`` returns: (status, headers, body)."""

    def __init__(self, answer: Callable[[str], tuple[int, dict, bytes]]) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append((self.command, self.path, dict(self.headers.items())))
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorders() -> Iterator[Callable[..., Recorder]]:
    started: list[Recorder] = []

    def start(answer=lambda path: (200, {"Content-Type": "application/json"}, b"{}")):
        started.append(Recorder(answer))
        return started[-1]

    yield start
    for recorder in started:
        recorder.close()


@pytest.fixture(autouse=True)
def no_remembered_names():
    egress._global_until.clear()
    yield
    egress._global_until.clear()


def as_role(role: str) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=role_user(role))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def shop(base_url: str = "https://shop.example.com", **settings) -> Channel:
    return channel_create(
        slug="shop",
        kind="shopify",
        name="Shop",
        credentials={"access_token": TOKEN},
        webhook_secret="shpss_secret",
        settings={"base_url": base_url, "location_id": "1", **settings},
    )


def stored(slug: str = "shop") -> Channel:
    return Channel.objects.get(slug=slug)


# --- who may move a channel --------------------------------------------------------------


def test_a_merchant_may_not_move_a_channel_and_nothing_changes():
    shop()
    merchant = as_role("Merchant")
    for body in (
        {"settings": {"base_url": "http://127.0.0.1:9999", "location_id": "1"}},
        {"credentials": {"access_token": "mine"}},
        {"webhook_secret": "mine"},
    ):
        response = merchant.patch("/api/v1/channels/shop/", body, format="json")
        assert response.status_code == 403, response.content
        assert response.json()["error"] == "forbidden"
        assert "Only an Admin" in response.json()["message"]
    channel = stored()
    assert channel.settings["base_url"] == "https://shop.example.com"
    assert channel.credentials == {"access_token": TOKEN}
    assert channel.webhook_secret == "shpss_secret"


def test_a_merchant_may_change_what_is_not_an_endpoint():
    shop()
    response = as_role("Merchant").patch(
        "/api/v1/channels/shop/",
        {
            "name": "Main shop",
            "enabled": False,
            "allocation": {"mode": "pool", "buffer_units": 2},
            # The endpoints as they are, and another setting changed.
            "settings": {
                "base_url": "https://shop.example.com",
                "location_id": "1",
                "batch_size": 10,
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    channel = stored()
    assert (channel.name, channel.enabled, channel.batch_size) == ("Main shop", False, 10)


def test_an_admin_moving_a_channel_without_its_credentials_is_refused():
    shop()
    response = as_role("Admin").patch(
        "/api/v1/channels/shop/",
        {"settings": {"base_url": "https://elsewhere.example.com", "location_id": "1"}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]["field"] == "credentials"
    assert "send the credentials again with the new address" in body["message"]
    assert "settings.base_url" in body["message"]
    assert stored().settings["base_url"] == "https://shop.example.com"


def test_an_admin_moves_a_channel_with_its_credentials_and_it_is_audited():
    shop()
    admin = as_role("Admin")
    response = admin.patch(
        "/api/v1/channels/shop/",
        {
            "settings": {"base_url": "https://new-shop.example.com/", "location_id": "1"},
            "credentials": {"access_token": "shpat_new"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    channel = stored()
    assert channel.settings["base_url"] == "https://new-shop.example.com/"
    assert channel.credentials == {"access_token": "shpat_new"}
    audit = ChannelAudit.objects.get(channel=channel, data__setting="base_url")
    assert audit.kind == "channel"
    assert audit.actor.groups.get().name == "Admin"
    assert "shop.example.com" in audit.message and "new-shop.example.com" in audit.message
    assert audit.actor.get_username() in audit.message
    assert TOKEN not in audit.message and "shpat_new" not in audit.message


def test_every_address_like_setting_is_an_endpoint():
    shop(api_version="2025-01")
    for name, value in (
        ("api_version", "2026-01"),
        ("push_url", "https://shop.example.com/push"),
        ("lwa_token_url", "https://shop.example.com/token"),
        ("notification_key_url", "https://shop.example.com/key/{kid}"),
        ("sqs_endpoint_url", "https://sqs.example.com"),
        ("sqs_queue_url", "https://sqs.example.com/1/q"),
        ("api_path", "wp-json/wc/v2"),
        ("sqs_region", "eu-west-1"),
    ):
        settings = {**stored().settings, name: value}
        response = as_role("Merchant").patch(
            "/api/v1/channels/shop/", {"settings": settings}, format="json"
        )
        assert response.status_code == 403, name
        assert f"settings.{name}" in response.json()["message"]


def test_the_system_may_move_a_channel_but_still_needs_its_credentials():
    channel = shop()
    with pytest.raises(InvalidChannel) as refused:
        channel_update(channel=channel, settings={"base_url": "https://b.example.com"})
    assert refused.value.detail["field"] == "credentials"
    channel_update(
        channel=channel,
        settings={"base_url": "https://b.example.com"},
        credentials={"access_token": "shpat_b"},
    )
    audit = ChannelAudit.objects.get(data__setting="base_url")
    assert audit.actor is None and "by the system" in audit.message


def test_a_channel_without_credentials_moves_without_them():
    channel_create(slug="web", kind="sandbox", name="Web", settings={"base_url": "https://a.test"})
    response = as_role("Admin").patch(
        "/api/v1/channels/web/", {"settings": {"base_url": "https://b.test"}}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", ["ftp://shop.example.com", "shop.example.com", 42])
def test_an_endpoint_that_is_not_an_http_url_is_refused(value):
    with pytest.raises(InvalidChannel) as refused:
        shop(base_url=value)
    assert refused.value.detail["field"] == "settings.base_url"
    assert not Channel.objects.exists()


# --- no private addresses unless allowed -------------------------------------------------


@pytest.mark.parametrize("url", PRIVATE_URLS)
@override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False)
def test_a_channel_pointing_inside_is_refused_on_create(url):
    response = as_role("Admin").post(
        "/api/v1/channels/",
        {
            "slug": "shop",
            "kind": "shopify",
            "name": "Shop",
            "credentials": {"access_token": TOKEN},
            "settings": {"base_url": url},
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]["field"] == "settings.base_url"
    assert "resolves to a private address" in body["message"]
    assert "CHANNEL_ALLOW_PRIVATE_NETWORKS=1" in body["message"]
    assert not Channel.objects.exists()


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_channel_moved_inside_is_refused_on_update(url):
    shop()
    with override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False):
        response = as_role("Admin").patch(
            "/api/v1/channels/shop/",
            {
                "settings": {"base_url": url, "location_id": "1"},
                "credentials": {"access_token": "shpat_new"},
            },
            format="json",
        )
    assert response.status_code == 400
    assert response.json()["detail"]["field"] == "settings.base_url"
    channel = stored()
    assert channel.settings["base_url"] == "https://shop.example.com"
    assert channel.credentials == {"access_token": TOKEN}
    assert not ChannelAudit.objects.filter(data__setting="base_url").exists()


@override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False)
@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
    + ["224.0.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "ff02::1"],
)
def test_every_kind_of_non_public_address_is_refused(monkeypatch, address):
    def resolve(host, port, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(EgressRefused, match="resolves to a private address"):
        check_outbound_url("https://shop.example.com/admin")


@override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False)
def test_a_name_is_refused_when_any_of_its_addresses_is_inside(monkeypatch):
    answers = ["93.184.215.14", "10.0.0.7"]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, **kw: [(socket.AF_INET, 1, 6, "", (a, port)) for a in answers],
    )
    with pytest.raises(EgressRefused, match=r"shop\.example\.com resolves to a private"):
        check_outbound_url("https://shop.example.com/")
    answers.pop()
    check_outbound_url("https://shop.example.com/")  # public only: allowed


@override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False)
def test_localhost_by_name_and_an_unknown_name_are_refused():
    with pytest.raises(EgressRefused, match="localhost resolves to a private address"):
        check_outbound_url("http://localhost:8025/")
    with pytest.raises(EgressUnresolved):
        check_outbound_url("https://no-such-host.invalid/")
    check_outbound_url("https://93.184.215.14/")  # a public address, no lookup needed


def shopify_push(recorder_url: str) -> OutboxEntry:
    """A Shopify channel at the recorder, one SKU with stock: one entry to push."""
    channel = shop(base_url=recorder_url)
    stock_receive(sku=sku_create(code="TEE"), quantity=5)
    outbox_drain_channel(channel_id=channel.pk)
    return OutboxEntry.objects.get(listing__channel=channel)


def test_a_push_to_a_channel_pointing_inside_goes_to_the_dlq_unsent(recorders):
    target = recorders()
    channel = shop(base_url=target.url)  # allowed when it was made
    stock_receive(sku=sku_create(code="TEE"), quantity=5)
    with override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False):
        outbox_drain_channel(channel_id=channel.pk)
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.DEAD
    assert "refused: 127.0.0.1" in entry.last_error
    assert "resolves to a private address" in entry.last_error
    assert "set CHANNEL_ALLOW_PRIVATE_NETWORKS=1 to allow it" in entry.last_error
    assert target.requests == []


def test_the_simulator_is_reached_only_while_private_networks_are_allowed(simulator, sim):
    secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="
    sim.create_store("sandbox", "web", webhook_secret=secret)
    channel = channel_create(
        slug="web",
        kind="sandbox",
        name="Web",
        webhook_secret=secret,
        settings={"base_url": f"{simulator.url}/sandbox/web"},
    )
    stock_receive(sku=sku_create(code="TEE"), quantity=5)
    with override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False):
        outbox_drain_channel(channel_id=channel.pk)
    entry = OutboxEntry.objects.get()
    assert entry.status == OutboxStatus.DEAD and "private address" in entry.last_error
    assert sim.levels("web") == {}
    assert sim.log("web") == []
    # Allowed again (the tests' default), the next push reaches it.
    stock_receive(sku=sku_create(code="CAP"), quantity=2)
    outbox_drain_channel(channel_id=channel.pk)
    assert sim.levels("web") == {"CAP": 2}


def test_a_redirect_is_not_followed(recorders):
    elsewhere = recorders()
    target = recorders(lambda path: (302, {"Location": f"{elsewhere.url}{path}"}, b"moved"))
    entry = shopify_push(target.url)
    assert target.requests and target.requests[0][2]["X-Shopify-Access-Token"] == TOKEN
    assert elsewhere.requests == []
    assert entry.status == OutboxStatus.DEAD and "answered 302" in entry.last_error


def test_what_a_channel_answers_is_kept_short(recorders):
    # A 400 (a 401 or 403 would pause the channel for its merchant: test_needs_action).
    target = recorders(lambda path: (400, {}, b"no: " + b"x" * 20_000))
    entry = shopify_push(target.url)
    assert entry.status == OutboxStatus.DEAD and "answered 400" in entry.last_error
    assert len(entry.last_error) <= ERROR_LIMIT
    for message in ChannelAudit.objects.filter(outbox_entry=entry).values_list(
        "message", flat=True
    ):
        assert len(message) <= ERROR_LIMIT + 50


def test_the_ebay_key_fetch_is_refused_inside(recorders):
    target = recorders()
    settings = {"notification_key_url": f"{target.url}/key/{{kid}}", "application_token": "t"}
    with (
        override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False),
        pytest.raises(VerificationUnavailable, match="private address"),
    ):
        _ebay_public_key("kid-1", settings=settings, now=datetime.now(UTC))
    assert target.requests == []


def test_the_sqs_poll_is_refused_inside(recorders):
    target = recorders()
    channel = channel_create(
        slug="amz",
        kind="amazon",
        name="Amazon",
        settings={
            "base_url": "https://sellingpartnerapi-na.amazon.com",
            "sqs_endpoint_url": target.url,
            "sqs_queue_url": f"{target.url}/1/queue",
        },
    )
    with override_settings(CHANNEL_ALLOW_PRIVATE_NETWORKS=False):
        assert amazon_poll_channel(channel=channel, wait_seconds=0) == 0
    assert target.requests == []
