"""Shopify's idempotency user errors (Admin GraphQL reference,
InventorySetQuantitiesUserErrorCode): a request still in progress is tried again later
under the same key; a key whose earlier attempt failed is replaced by a new one."""

from channels.adapters import LevelPush
from channels.adapters.shopify import idempotency_key_for

from .support import mapped_refs


def push(ref, quantity, key="entry-1"):
    return LevelPush(ref=ref, quantity=quantity, expected=None, key=key)


def writes(control, store):
    return [entry for entry in control.log(store["store"]) if entry["operation"] == "write"]


def test_a_concurrent_request_is_retried_later_not_failed(store_with_adapter, control):
    store, adapter = store_with_adapter(
        "shopify",
        {"TEE-S": 10},
        idempotency_errors={"code": "IDEMPOTENCY_CONCURRENT_REQUEST", "count": 1},
    )
    batch = [push(mapped_refs(store)["TEE-S"], 7)]

    [outcome] = adapter.push_levels(batch)

    assert outcome.status == "retry"
    assert "IDEMPOTENCY_CONCURRENT_REQUEST" in outcome.error
    assert outcome.retry_after and outcome.retry_after > 0
    assert control.levels(store["store"]) == {"TEE-S": 10}
    # The drainer's later resend (same key) goes through.
    assert adapter.push_levels(batch)[0].status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 7}


def test_a_failed_previous_attempt_is_resent_under_a_new_key(store_with_adapter, control):
    store, adapter = store_with_adapter(
        "shopify",
        {"TEE-S": 10},
        idempotency_errors={"code": "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "count": 1},
    )
    batch = [push(mapped_refs(store)["TEE-S"], 7)]

    [outcome] = adapter.push_levels(batch)

    assert outcome.status == "accepted", outcome.error
    assert control.levels(store["store"]) == {"TEE-S": 7}
    assert len(writes(control, store)) == 2  # the spent key, then the next one
    # A later resend of the same batch starts from the spent key again and lands on the
    # one that worked: Shopify answers its first result, nothing applied twice.
    control.set_levels(store["store"], {"TEE-S": 5})
    assert adapter.push_levels(batch)[0].status == "accepted"
    assert control.levels(store["store"]) == {"TEE-S": 5}


def test_keys_that_keep_failing_end_in_a_retry(store_with_adapter, control):
    store, adapter = store_with_adapter(
        "shopify",
        {"TEE-S": 10},
        idempotency_errors={"code": "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", "count": 10},
    )

    [outcome] = adapter.push_levels([push(mapped_refs(store)["TEE-S"], 7)])

    assert outcome.status == "retry"
    assert "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED" in outcome.error
    assert len(writes(control, store)) == 3
    assert control.levels(store["store"]) == {"TEE-S": 10}


def test_the_key_chain_is_fixed_per_request():
    from channels.adapters import ListingRef

    batch = [push(ListingRef(sku="A", external_id="1"), 3)]
    keys = [idempotency_key_for(batch, attempt) for attempt in range(3)]
    assert len(set(keys)) == 3
    assert keys == [idempotency_key_for(batch, attempt) for attempt in range(3)]
    assert keys[0] == idempotency_key_for(batch)


def test_the_same_entries_to_another_location_are_another_request():
    # After the merchant corrects the location, Shopify must not answer the new request
    # with the first one's refusal.
    from channels.adapters import ListingRef

    batch = [push(ListingRef(sku="A", external_id="1"), 3)]
    wrong = idempotency_key_for(batch, locations=["gid://shopify/Location/222"])
    right = idempotency_key_for(batch, locations=["gid://shopify/Location/111"])
    assert wrong != right
    assert wrong == idempotency_key_for(batch, locations=["gid://shopify/Location/222"])
