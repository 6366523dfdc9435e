"""Admin for channels. Secrets are never shown: the form has no secret fields and the
list shows at most their last four characters. Changes go through the API or dashboard
so the outbox is refreshed in the same transaction."""

from django.contrib import admin

from foundation.crypto import masked
from ledger.admin import ReadOnlyAdmin

from .models import (
    AllocationRule,
    Channel,
    ChannelAudit,
    Drift,
    InboundEvent,
    Listing,
    OutboxEntry,
)


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = [
        "slug",
        "kind",
        "name",
        "enabled",
        "secret_hint",
        "batch_size",
        "last_reconciled_at",
    ]
    exclude = ["credentials", "webhook_secret", "previous_webhook_secret"]
    readonly_fields = ["secret_hint", "credential_hints"]

    @admin.display(description="webhook secret")
    def secret_hint(self, channel):
        return masked(channel.webhook_secret)

    @admin.display(description="credentials")
    def credential_hints(self, channel):
        return {key: masked(str(value)) for key, value in (channel.credentials or {}).items()}


@admin.register(AllocationRule)
class AllocationRuleAdmin(ReadOnlyAdmin):
    list_display = [
        "channel",
        "sku",
        "mode",
        "share_percent",
        "fixed_quantity",
        "buffer_units",
        "buffer_percent",
    ]
    list_select_related = ["channel", "sku"]


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = [
        "channel",
        "sku",
        "external_id",
        "published",
        "confirmed",
        "confirmed_at",
        "state",
    ]
    list_filter = ["channel", "state"]
    list_select_related = ["channel", "sku"]
    search_fields = ["sku__code_key", "external_id"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "channel",
        "listing",
        "quantity",
        "status",
        "priority",
        "attempts",
        "next_attempt_at",
    ]
    list_filter = ["channel", "status"]
    list_select_related = ["channel", "listing__sku"]


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "topic", "dedupe_key", "status", "attempts", "received_at"]
    list_filter = ["channel", "status", "topic"]
    search_fields = ["dedupe_key"]


@admin.register(Drift)
class DriftAdmin(ReadOnlyAdmin):
    list_display = ["sku", "channel", "hub_quantity", "channel_quantity", "status", "detected_at"]
    list_filter = ["channel", "status"]


@admin.register(ChannelAudit)
class ChannelAuditAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "channel", "sku", "actor", "message"]
    list_filter = ["kind", "channel"]
