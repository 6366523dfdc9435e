"""What a body must show to be believed under its topic.

Shopify signs the body but not ``X-Shopify-Topic``; WooCommerce signs the body but not
``X-WC-Webhook-Topic``. Anyone who has seen one signed body (a log, a proxy, a leaked
request) could send it again under another topic with a fresh delivery id: the signed
``orders/create`` of an order, sent as ``orders/cancelled``, would release its
reservation. TOPIC_RULES says, per (kind, topic), what the body itself must say for the
topic to be true; a body that says otherwise is refused with TopicMismatch (400). Only
topics the body can contradict are listed; other topics move no stock.

Standard Webhooks (``type``) and eBay (``metadata.topic``) name the topic inside the
signed body, and Amazon (``NotificationType``) inside the message only Amazon may queue,
so their topic cannot be swapped; BODY_TOPIC holds the caller to the body's own topic.

WooCommerce builds its payload when it delivers, from the order's state at that moment,
so an ``order.created`` may already say ``cancelled``: the parser takes the event from
the signed ``status``, never from the topic, and the order rules ask only that the body
be an order.

Residual risk. These rules make a body say what its topic says; they cannot make a body
fresh. The delivery ids (``X-Shopify-Event-Id``, ``X-Shopify-Webhook-Id``,
``X-WC-Webhook-ID``) and ``X-Shopify-Triggered-At`` are not signed, so whoever holds a
signed body can send it again later with new ids, under its own topic or any other topic
its content also satisfies (a cancelled order's ``orders/updated`` body passes as
``orders/cancelled``; a fulfilled order's as ``orders/create``), and the inbox's dedupe
key will not recognise it. What a replay can do is bounded by what the body truthfully
says. An order line's state is a set of one-way facts (placed, cancelled, fulfilled), so
replaying a fact already applied changes nothing, and replaying one not yet seen applies
something that did happen. Two kinds of delivery are not idempotent under replay:
``refunds/create`` (each refund adds its restock quantity, so a replayed refund puts the
same units back on the shelf again, up to the line's quantity), and level reports
(``inventory_levels/update``, ``product.updated``: an old level replayed before any newer
report was seen is taken as the channel's figure and can open a drift). Closing these
needs a dedupe key from the signed body (the refund's own ``id``; or a hash of topic and
body) kept as long as the sender retries, and a freshness bound that Shopify does not
sign. Standard Webhooks sign their id and timestamp (a five-minute window) and eBay's
notification id sits inside its signed body, so neither replays under a new id.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import TopicMismatch

__all__ = ["BODY_TOPIC", "TOPIC_RULES", "Clause", "TopicRule", "check_topic"]

# A field the body does not have at all, as opposed to one that is null.
_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class Clause:
    """One thing the body must show: ``field`` must ``must`` (read "cancelled_at must
    be set")."""

    field: str
    must: str
    holds: Callable[[Any], bool]

    def complaint(self, payload: Mapping[str, Any]) -> str | None:
        value = payload.get(self.field, _ABSENT)
        if self.holds(value):
            return None
        return f"{self.field} must {self.must}, got {_describe(value)}"


@dataclass(frozen=True, slots=True)
class TopicRule:
    # What the topic claims the body is, for the message: "a cancelled order".
    claim: str
    clauses: tuple[Clause, ...]


def _array(field: str) -> Clause:
    return Clause(field, "be a JSON array", lambda value: isinstance(value, list))


def _set(field: str) -> Clause:
    return Clause(field, "be set", lambda value: value is not _ABSENT and value is not None)


def _unset(field: str) -> Clause:
    return Clause(field, "be null or absent", lambda value: value is _ABSENT or value is None)


def _absent(field: str, because: str) -> Clause:
    return Clause(field, f"be absent ({because})", lambda value: value is _ABSENT)


def _equal(field: str, wanted: str) -> Clause:
    return Clause(field, f"be {wanted!r}", lambda value: value == wanted)


_SHOPIFY_ORDER = (
    _array("line_items"),
    _absent("refund_line_items", "a refund has them, an order does not"),
)
_NOT_SHOPIFY_ORDER = (
    _absent("line_items", "an order has them"),
    _absent("refund_line_items", "a refund has them"),
)

TOPIC_RULES: dict[tuple[str, str], TopicRule] = {
    # The create payload is the order as it was created, and a retry carries that same
    # payload, so a creation that already says cancelled is a relabelled cancellation
    # (or a payload serialised after the cancel). Refusing it loses nothing: the order's
    # own orders/cancelled carries the cancellation, and intake remembers a cancellation
    # that comes before its creation, so the line is never reserved. (A creation may be
    # paid and fulfilled: a point-of-sale order is both when it is created.)
    ("shopify", "orders/create"): TopicRule(
        "a new order", (*_SHOPIFY_ORDER, _unset("cancelled_at"))
    ),
    # Moves no stock; still refused if it is not an order at all.
    ("shopify", "orders/updated"): TopicRule("an order", _SHOPIFY_ORDER),
    ("shopify", "orders/cancelled"): TopicRule(
        "a cancelled order", (*_SHOPIFY_ORDER, _set("cancelled_at"))
    ),
    ("shopify", "orders/fulfilled"): TopicRule(
        "a fulfilled order", (*_SHOPIFY_ORDER, _equal("fulfillment_status", "fulfilled"))
    ),
    # Moves no stock today; ruled so that a future use cannot be fooled.
    ("shopify", "orders/paid"): TopicRule(
        "a paid order", (*_SHOPIFY_ORDER, _equal("financial_status", "paid"))
    ),
    ("shopify", "refunds/create"): TopicRule(
        "a refund",
        (
            _array("refund_line_items"),
            _set("order_id"),
            _absent("line_items", "an order has them, a refund does not"),
        ),
    ),
    ("shopify", "inventory_levels/update"): TopicRule(
        "an inventory level", (_set("inventory_item_id"), *_NOT_SHOPIFY_ORDER)
    ),
    # The event comes from the signed status whatever the topic (see the module note).
    ("woocommerce", "order.created"): TopicRule("an order", (_array("line_items"),)),
    ("woocommerce", "order.updated"): TopicRule("an order", (_array("line_items"),)),
    ("woocommerce", "product.created"): TopicRule(
        "a product", (_set("id"), _absent("line_items", "an order has them"))
    ),
    ("woocommerce", "product.updated"): TopicRule(
        "a product", (_set("id"), _absent("line_items", "an order has them"))
    ),
}

# Kinds whose topic the verifier read from the body: the path to it there.
BODY_TOPIC: dict[str, tuple[str, ...]] = {
    "standard": ("type",),
    "sandbox": ("type",),
    "ebay": ("metadata", "topic"),
    "amazon": ("NotificationType",),
}

# Where each kind's topic came from, for the message.
_TOPIC_SOURCE = {
    "shopify": "X-Shopify-Topic",
    "woocommerce": "X-WC-Webhook-Topic",
}


def check_topic(kind: str, topic: str, payload: Mapping[str, Any]) -> None:
    """Raise TopicMismatch unless ``payload`` can be what ``topic`` says it is."""
    if path := BODY_TOPIC.get(kind):
        named = _at(payload, path)
        if named is not _ABSENT and named != topic:
            raise TopicMismatch(
                f"the body names its topic {_describe(named)} at {'.'.join(path)}, not {topic!r}"
            )
        return
    rule = TOPIC_RULES.get((kind, topic))
    if rule is None:
        return
    for clause in rule.clauses:
        if (complaint := clause.complaint(payload)) is not None:
            source = _TOPIC_SOURCE.get(kind, "the topic")
            raise TopicMismatch(
                f"the body is not {rule.claim} as {source} {topic!r} claims (the signature "
                f"covers the body, not the topic): {complaint}"
            )


def _at(payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for step in path:
        if not isinstance(value, Mapping):
            return _ABSENT
        value = value.get(step, _ABSENT)
    return value


def _describe(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"{value!r:.60}"
    if isinstance(value, bool | int | float):
        return repr(value)
    return "an object" if isinstance(value, Mapping) else "an array"
