"""Admin: browse and search. Stock only changes through the services (the dashboard and
the API), so levels, movements and operations are read-only here."""

from django.contrib import admin

from .models import (
    Location,
    Movement,
    OversellIncident,
    Reservation,
    Sku,
    StockLevel,
    StockOperation,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "barcode", "created_at"]
    search_fields = ["code_key", "title", "barcode"]
    readonly_fields = ["code"]

    def has_add_permission(self, request):
        return False  # new SKUs go through sku_create, which lists them on every channel

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "priority", "is_default"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["sku", "location", "on_hand", "committed", "version", "updated_at"]
    list_select_related = ["sku", "location"]
    search_fields = ["sku__code_key"]


@admin.register(Movement)
class MovementAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "recorded_at",
        "sku",
        "location",
        "kind",
        "on_hand_delta",
        "committed_delta",
        "on_hand_after",
        "committed_after",
        "source",
        "actor",
    ]
    list_filter = ["kind", "source"]
    list_select_related = ["sku", "location", "actor"]
    search_fields = ["sku__code_key", "source_ref", "reason"]


@admin.register(StockOperation)
class StockOperationAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "source", "actor", "idempotency_key", "created_at"]
    list_filter = ["kind", "source"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["id", "sku", "quantity", "order_id", "channel_slug", "status", "created_at"]
    list_filter = ["status", "channel_slug"]
    search_fields = ["order_id", "sku__code_key"]


@admin.register(OversellIncident)
class OversellIncidentAdmin(ReadOnlyAdmin):
    list_display = ["sku", "status", "shortfall", "opened_at", "resolved_at"]
    list_filter = ["status"]
