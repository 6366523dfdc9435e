"""Writes for channels, allocation rules and listings. Each is one transaction that also
refreshes the outbox for whatever it changed.

- ``channel``: create and update a channel (settings, secrets, endpoints, who may change
  them), forget a previous webhook secret.
- ``allocation``: the default rule and per-SKU overrides.
- ``listings``: listings for new SKUs, mapping to the channel's ids, CSV import/export.
"""

from .allocation import allocation_rule_delete, allocation_rule_set
from .channel import (
    ENDPOINT_SETTINGS,
    ENDPOINT_URL_SETTINGS,
    MANAGE_ENDPOINTS,
    channel_create,
    channel_previous_secret_forget,
    channel_update,
)
from .common import KINDS_ADDRESSED_BY_SKU, EndpointChangeRefused, InvalidChannel, InvalidRule
from .listings import (
    CSV_COLUMNS,
    ImportReport,
    listing_map,
    listings_export_csv,
    listings_import_csv,
    listings_match_new_skus,
    listings_match_skus,
)

__all__ = [
    "CSV_COLUMNS",
    "ENDPOINT_SETTINGS",
    "ENDPOINT_URL_SETTINGS",
    "KINDS_ADDRESSED_BY_SKU",
    "MANAGE_ENDPOINTS",
    "EndpointChangeRefused",
    "ImportReport",
    "InvalidChannel",
    "InvalidRule",
    "allocation_rule_delete",
    "allocation_rule_set",
    "channel_create",
    "channel_previous_secret_forget",
    "channel_update",
    "listing_map",
    "listings_export_csv",
    "listings_import_csv",
    "listings_match_new_skus",
    "listings_match_skus",
]
