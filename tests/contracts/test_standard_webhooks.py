"""Standard Webhooks' published test vector and the hub's documented storefront bodies
(tests/contracts/standard/SOURCES.md) through the verifier and the parser."""

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from channels.webhooks import LevelReported, OrderEvent
from channels.webhooks.errors import MalformedDelivery, SignatureInvalid
from channels.webhooks.parse import parse_events
from channels.webhooks.verify import verify_delivery
from tests.contracts.support import document, document_bytes

VECTOR = document("standard", "spec_test_vector.json")
VECTOR_BODY = document_bytes("standard", "spec_test_vector.body")
SIGNED_AT = datetime.fromtimestamp(int(VECTOR["headers"]["webhook-timestamp"]), tz=UTC)


def verify(kind: str, body: bytes, headers: dict[str, str], *, now: datetime = SIGNED_AT):
    return verify_delivery(
        kind,
        body=body,
        headers=headers,
        method="POST",
        query={},
        secrets=[VECTOR["secret"]],
        settings={},
        now=now,
    )


@pytest.mark.parametrize("kind", ["standard", "sandbox"])
def test_the_specifications_vector_passes_the_signature_check(kind):
    # The vector's body names no `type`: past the signature, the hub has nothing to read
    # (the intake parks such a delivery as unreadable rather than refusing it).
    with pytest.raises(MalformedDelivery, match="type"):
        verify(kind, VECTOR_BODY, VECTOR["headers"])


def test_the_vector_with_one_body_byte_changed_does_not_verify():
    changed = VECTOR_BODY.replace(b"2432232314", b"2432232315")

    with pytest.raises(SignatureInvalid, match="no v1 webhook-signature matches"):
        verify("standard", changed, VECTOR["headers"])


def test_the_vector_outside_the_replay_window_is_refused():
    with pytest.raises(SignatureInvalid, match="replay window"):
        verify("standard", VECTOR_BODY, VECTOR["headers"], now=datetime(2026, 1, 1, tzinfo=UTC))


def signed(name: str) -> tuple[bytes, dict[str, str]]:
    """A hub document signed by the reference library with the vector's secret."""
    body = document_bytes("standard", name)
    msg_id = f"msg_{name.removesuffix('.json')}"
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(SIGNED_AT.timestamp())),
        "webhook-signature": Webhook(VECTOR["secret"]).sign(msg_id, SIGNED_AT, body.decode()),
    }


def test_a_storefront_order_verifies_and_parses():
    delivery = verify("standard", *signed("webhook_order_created.json"))

    [event] = parse_events("standard", delivery.topic, delivery.payload)

    assert isinstance(event, OrderEvent)
    assert (event.kind, event.order_id) == ("placed", "SF-100234")
    assert [(line.sku, line.quantity) for line in event.lines] == [
        ("MUG-BLUE", 2),
        ("BEANIE-CHAR", 1),
    ]


def test_a_storefront_level_report_verifies_and_parses():
    delivery = verify("sandbox", *signed("webhook_inventory_level.json"))

    [event] = parse_events("sandbox", delivery.topic, delivery.payload)

    assert isinstance(event, LevelReported)
    assert (event.sku, event.quantity) == ("MUG-BLUE", 12)
