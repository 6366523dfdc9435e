"""Dashboard routes (login required on every page). Webhook routes live elsewhere.

Namespaced "dashboard": the API under /api/v1/ already uses names like "sku-detail".
Every view carries a per-method permission rule (`foundation.permissions.requires`);
tests/test_permissions.py walks this list.
"""

from django.urls import path

from .views import allocation as allocation_views
from .views import audit as audit_views
from .views import channel_admin
from .views import channels as channel_views
from .views import charts as chart_views
from .views import counts as count_views
from .views import dlq as dlq_views
from .views import drift as drift_views
from .views import incidents as incident_views
from .views import locations as location_views
from .views import orders as order_views
from .views import stock as stock_views

app_name = "dashboard"

urlpatterns = [
    path("", stock_views.overview, name="overview"),
    path("skus/new/", stock_views.sku_new, name="sku-new"),
    # <path:> so that codes with a slash ("TEE/RED/M") have a page too.
    path("skus/<path:code>/", stock_views.sku_detail, name="sku"),
    path(
        "reservations/<int:pk>/release/",
        stock_views.reservation_close,
        {"action": "release"},
        name="reservation-release",
    ),
    path(
        "reservations/<int:pk>/ship/",
        stock_views.reservation_close,
        {"action": "ship"},
        name="reservation-ship",
    ),
    path("incidents/", incident_views.incidents, name="incidents"),
    path(
        "incidents/<int:pk>/resolve/",
        incident_views.incident_resolve_view,
        name="incident-resolve",
    ),
    # Channels: list, create, page, edit and the page's htmx actions.
    path("channels/", channel_views.channel_list, name="channels"),
    path("channels/new/", channel_admin.channel_new, name="channel-new"),
    path("channels/<slug:slug>/", channel_views.channel_detail, name="channel"),
    path("channels/<slug:slug>/edit/", channel_admin.channel_edit, name="channel-edit"),
    path("channels/<slug:slug>/test/", channel_admin.channel_test, name="channel-test"),
    path("channels/<slug:slug>/enabled/", channel_admin.channel_enable, name="channel-enable"),
    path(
        "channels/<slug:slug>/try-again/",
        channel_admin.channel_try_again,
        name="channel-try-again",
    ),
    path("channels/<slug:slug>/secret/", channel_admin.channel_secret, name="channel-secret"),
    path("channels/<slug:slug>/allocation/", allocation_views.allocation, name="allocation"),
    path(
        "channels/<slug:slug>/allocation/preview/",
        allocation_views.allocation_preview,
        name="allocation-preview",
    ),
    path("channels/<slug:slug>/overrides/", allocation_views.override_save, name="override-save"),
    path(
        "channels/<slug:slug>/overrides/<path:code>/delete/",
        allocation_views.override_delete,
        name="override-delete",
    ),
    path("charts/", chart_views.charts, name="charts"),
    path("locations/", location_views.locations, name="locations"),
    path("locations/<slug:code>/", location_views.location_change, name="location"),
    path("orders/", order_views.orders, name="orders"),
    path("orders/unreadable/", order_views.unreadable, name="unreadable"),
    path("orders/unreadable/<int:pk>/", order_views.unreadable_act, name="unreadable-act"),
    # Physical counts: preview, apply, and the lines waiting for approval.
    path("counts/", count_views.counts, name="counts"),
    path("counts/preview/", count_views.count_preview_view, name="count-preview"),
    path("counts/apply/", count_views.count_apply_view, name="count-apply"),
    path("counts/<int:pk>/decide/", count_views.count_decide, name="count-decide"),
    # The queues people work through.
    path("dlq/", dlq_views.dlq, name="dlq"),
    path("dlq/act/", dlq_views.dlq_act, name="dlq-act"),
    path("drift/", drift_views.drift_queue, name="drift"),
    path("drift/decide/", drift_views.drift_decide, name="drift-decide"),
    # The audit trail.
    path("audit/", audit_views.audit_log, name="audit"),
    path("audit/export.csv", audit_views.audit_export, name="audit-export"),
    path("audit/skus/<path:code>/", audit_views.sku_audit, name="sku-audit"),
]
