"""Demo data: a catalogue, stock, one channel of every kind, and a simulator store each.

Safe to run again: what exists is kept. The login is printed (and kept in
var/demo-login.txt so a second `make run` prints the same one).
"""

from __future__ import annotations

import secrets
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from channels.models import Channel, ChannelKind
from channels.services import InvalidChannel, channel_create
from channels.webhooks.signing import make_standard_secret
from ledger.models import Sku
from ledger.services import Origin, sku_create, stock_receive
from simulator.demo import store_spec

CATALOGUE = [
    ("TEE-BLK-S", "Organic tee, black, S", 40),
    ("TEE-BLK-M", "Organic tee, black, M", 55),
    ("TEE-BLK-L", "Organic tee, black, L", 35),
    ("TEE-WHT-M", "Organic tee, white, M", 25),
    ("HOODIE-GRY-M", "Heavy hoodie, grey, M", 12),
    ("HOODIE-GRY-L", "Heavy hoodie, grey, L", 8),
    ("MUG-ENAMEL", "Enamel camp mug", 120),
    ("CAP-NAVY", "Six-panel cap, navy", 30),
    ("TOTE-NAT", "Canvas tote, natural", 64),
    ("SOCKS-3PK", "Merino socks, 3-pack", 3),
]

# slug -> (kind, name, default allocation)
# Demo logins, one per role (the superuser "demo" may do everything).
ROLE_USERS = {"admin": "Admin", "merchant": "Merchant", "approver": "Approver", "viewer": "Viewer"}

CHANNELS = {
    "shopify": (ChannelKind.SHOPIFY, "Shopify store", {"mode": "pool", "buffer_units": 2}),
    "woocommerce": (
        ChannelKind.WOOCOMMERCE,
        "WooCommerce shop",
        {"mode": "pool", "buffer_units": 1},
    ),
    "amazon": (ChannelKind.AMAZON, "Amazon", {"mode": "share", "share_percent": "40"}),
    "ebay": (ChannelKind.EBAY, "eBay", {"mode": "fixed", "fixed_quantity": 10}),
    "storefront": (
        ChannelKind.STANDARD,
        "Custom storefront",
        {"mode": "pool", "buffer_percent": "10"},
    ),
    "sandbox": (ChannelKind.SANDBOX, "Sandbox", {"mode": "pool"}),
}


class Command(BaseCommand):
    help = "Create demo SKUs, one channel of every kind, and a simulator store for each."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8025")
        parser.add_argument("--web-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--wait", type=float, default=0, help="Seconds to wait for the simulator to answer."
        )
        parser.add_argument("--username", default="demo")

    def handle(self, *args, simulator_url: str, web_url: str, wait: float, username: str, **opts):
        simulator_url = simulator_url.rstrip("/")
        password = self._login(username)
        for code, title, quantity in CATALOGUE:
            if not Sku.objects.filter(code=code).exists():
                sku = sku_create(code=code, title=title)
                stock_receive(
                    sku=sku, quantity=quantity, origin=Origin(reason="demo opening stock")
                )
        for slug, (kind, name, allocation) in CHANNELS.items():
            if Channel.objects.filter(slug=slug).exists():
                continue
            try:
                channel_create(
                    slug=slug,
                    kind=kind,
                    name=name,
                    webhook_secret=make_standard_secret()
                    if kind in ("standard", "sandbox")
                    else secrets.token_hex(24),
                    credentials=self._credentials(kind),
                    settings=self._settings(kind, slug, simulator_url),
                    allocation=allocation,
                )
            except InvalidChannel as exc:
                # The simulator runs on loopback: `make run` allows private networks.
                raise CommandError(f"demo channel {slug}: {exc.message}") from None
        self._create_stores(simulator_url, web_url, wait)
        token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=username))
        self._role_users(password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready. Log in as {username} / {password}   (API token: {token.key})"
            )
        )
        self.stdout.write(
            "  One login per role, same password: "
            + ", ".join(f"{name} ({role})" for name, role in ROLE_USERS.items())
        )

    @staticmethod
    def _role_users(password: str) -> None:
        """One person per role, to try what each may do (the roles: foundation.roles)."""
        for name, role in ROLE_USERS.items():
            user, _ = get_user_model().objects.get_or_create(
                username=name, defaults={"is_staff": False}
            )
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])

    def _login(self, username: str) -> str:
        path = settings.VAR_DIR / "demo-login.txt"
        password = path.read_text().strip() if path.exists() else secrets.token_urlsafe(9)
        path.write_text(password)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()
        return password

    @staticmethod
    def _credentials(kind: str) -> dict:
        if kind == ChannelKind.WOOCOMMERCE:
            return {"consumer_key": "ck_demo", "consumer_secret": "cs_demo"}
        if kind == ChannelKind.AMAZON:
            return {"refresh_token": "demo", "lwa_app_id": "demo", "lwa_client_secret": "demo"}
        if kind == ChannelKind.EBAY:
            # A connected eBay account: the hub mints and renews the access token.
            return {
                "client_id": "demo-ebay-app",
                "client_secret": "demo-ebay-cert",
                "refresh_token": "v^1.1#demo-ebay-refresh",
            }
        return {"access_token": f"demo-{kind}-token"}

    @staticmethod
    def _settings(kind: str, slug: str, simulator_url: str) -> dict:
        base = {"base_url": f"{simulator_url}/{kind}/{slug}"}
        if kind == ChannelKind.EBAY:
            key_url = f"{base['base_url']}/commerce/notification/v1/public_key/{{kid}}"
            base["notification_key_url"] = key_url
        if kind == ChannelKind.SHOPIFY:
            base["location_id"] = "1"
        if kind == ChannelKind.AMAZON:
            store = base["base_url"]
            base.update(
                seller_id="DEMO-SELLER",
                marketplace_id="ATVPDKIKX0DER",
                product_type="PRODUCT",
                lwa_token_url=f"{store}/auth/o2/token",
                # Amazon notifications arrive through the store's simulated SQS queue.
                sqs_endpoint_url=f"{store}/sqs",
                sqs_queue_url=f"{store}/sqs/{slug}-notifications",
            )
        return base

    def _create_stores(self, simulator_url: str, web_url: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    client.get(f"{simulator_url}/_control/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() >= deadline:
                        self.stdout.write(
                            f"Simulator not reachable at {simulator_url}: its stores are created "
                            "when it starts (simulate_channels --stores-from-hub)."
                        )
                        return
                    time.sleep(0.5)
            for channel in Channel.objects.all():
                client.post(
                    f"{simulator_url}/_control/stores", json=store_spec(channel, web_url=web_url)
                ).raise_for_status()
        self.stdout.write(f"Simulator stores created at {simulator_url}")
