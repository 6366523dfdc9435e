"""0003 moves Shopify channels still on the old request budget to the points budget."""

import importlib

import pytest
from django.apps import apps

from channels.models import Channel
from channels.services import channel_create

pytestmark = pytest.mark.django_db

migration = importlib.import_module("channels.migrations.0003_shopify_query_cost_budget")


def channel(slug, kind, rate, burst):
    return channel_create(
        slug=slug,
        kind=kind,
        name=slug,
        settings={"rate_limit_per_second": rate, "rate_limit_burst": burst},
    )


def budgets():
    return {c.slug: (c.rate_limit_per_second, c.rate_limit_burst) for c in Channel.objects.all()}


def test_only_shopify_channels_on_the_old_defaults_move_to_points():
    channel("shop", "shopify", 5, 20)
    channel("shop-tuned", "shopify", 5, 30)
    channel("woo", "woocommerce", 5, 20)

    migration.to_points(apps, None)

    assert budgets() == {
        "shop": (100.0, 1000),
        "shop-tuned": (5.0, 30),
        "woo": (5.0, 20),
    }


def test_reversing_moves_them_back():
    channel("shop", "shopify", 5, 20)
    channel("woo", "woocommerce", 100, 1000)
    migration.to_points(apps, None)

    migration.to_requests(apps, None)

    assert budgets() == {"shop": (5.0, 20), "woo": (100.0, 1000)}
