"""Why a webhook delivery was refused, and which HTTP status says so to the sender."""

from typing import ClassVar


class WebhookRejected(Exception):
    """A delivery the hub will not accept; ``status_code`` is the answer for the sender.

    The intake view can answer ``exc.status_code`` with ``str(exc)`` as the message, so a
    new reason never needs a new branch in the view.
    """

    status_code: ClassVar[int] = 400


class SignatureInvalid(WebhookRejected):
    """The delivery is not provably from the channel: bad, missing or stale signature."""

    status_code = 401


class MalformedDelivery(WebhookRejected):
    """The delivery is authentic (or unsigned by design) but its shape is unusable."""

    status_code = 400


class TopicMismatch(MalformedDelivery):
    """The body is authentic but does not say what its unsigned topic claims.

    Shopify and WooCommerce sign the body, not the topic header, so a captured body can
    be re-sent under another topic; topics.py lists what each topic's body must show.
    Still a 400: a subclass so that a view which parks unreadable deliveries (200) can
    go on refusing these.
    """


class VerificationUnavailable(WebhookRejected):
    """The hub cannot check the delivery right now: a misconfigured channel, or eBay's
    public-key service is unreachable.

    Answered with 503 so the channel retries later instead of treating the event as
    refused; the fault is ours, not the sender's.
    """

    status_code = 503
