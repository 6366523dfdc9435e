"""The simulator signs WooCommerce webhooks as WooCommerce does: HMAC keyed with the
secret after ``wp_specialchars_decode($secret, ENT_QUOTES)`` (class-wc-webhook.php)."""

import base64
import hashlib
import hmac

SECRET = "s3cr&amp;t&#039;&lt;ok&gt;&eacute;"
# Only the entities of & < > " ' are decoded; &eacute; stays as it is.
DECODED = "s3cr&t'<ok>&eacute;"


def test_the_simulator_signs_with_the_decoded_secret(control, receiver):
    control.create_store(
        "woocommerce", "woo-sig", levels={"MUG": 3}, webhook_url=receiver.url, webhook_secret=SECRET
    )

    control.place_order("woo-sig", [{"sku": "MUG", "quantity": 1}])

    [delivery] = receiver.deliveries
    expected = hmac.new(DECODED.encode(), delivery.body, hashlib.sha256).digest()
    assert delivery.headers["x-wc-webhook-signature"] == base64.b64encode(expected).decode()
