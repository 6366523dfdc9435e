"""The sandbox: the channel simulator's own storefront.

It speaks exactly the custom-storefront protocol of :mod:`channels.adapters.standard`
(Standard-Webhooks-signed pushes, ``GET /inventory`` read-back); the kind exists so the
demo's simulated channels are labelled as such and can never be mistaken for a merchant's
real storefront.
"""

from channels.adapters.standard import StandardAdapter


class SandboxAdapter(StandardAdapter):
    kind = "sandbox"
