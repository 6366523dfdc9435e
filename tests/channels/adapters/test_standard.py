"""Custom storefronts (standard, sandbox): Standard-Webhooks-signed pushes."""

import httpx
import pytest

from channels.adapters import LevelPush, ListingRef

pytestmark = pytest.mark.parametrize("kind", ["standard", "sandbox"])


def test_a_resent_push_keeps_its_webhook_id_and_is_applied_once(kind, store_with_adapter, control):
    store, adapter = store_with_adapter(kind, {"TEE-S": 5})
    batch = [LevelPush(ListingRef(sku="TEE-S"), 3, None, "entry-7-v2")]
    adapter.push_levels(batch)
    control.set_levels(store["store"], {"TEE-S": 8})

    adapter.push_levels(batch)
    assert control.levels(store["store"]) == {"TEE-S": 8}

    adapter.push_levels([LevelPush(ListingRef(sku="TEE-S"), 3, None, "entry-7-v3")])
    assert control.levels(store["store"]) == {"TEE-S": 3}


def test_the_storefront_refuses_unsigned_calls(kind, store_with_adapter):
    store, _ = store_with_adapter(kind, {"TEE-S": 5})

    pushed = httpx.post(
        f"{store['base_url']}/inventory",
        json={"type": "inventory.level.updated", "data": {"levels": []}},
    )
    read = httpx.get(f"{store['base_url']}/inventory")

    assert pushed.status_code == 401
    assert read.status_code == 401
