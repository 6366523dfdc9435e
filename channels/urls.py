"""Dashboard routes (login required on every page). Webhook routes live elsewhere.

Namespaced "dashboard": the API under /api/v1/ already uses names like "sku-detail".
"""

from django.urls import path

from ledger import views as ledger_views

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", ledger_views.overview, name="overview"),
    path("skus/new/", ledger_views.sku_new, name="sku-new"),
    # <path:> so that codes with a slash ("TEE/RED/M") have a page too.
    path("skus/<path:code>/", ledger_views.sku_detail, name="sku"),
    path(
        "reservations/<int:pk>/release/",
        ledger_views.reservation_close,
        {"action": "release"},
        name="reservation-release",
    ),
    path(
        "reservations/<int:pk>/ship/",
        ledger_views.reservation_close,
        {"action": "ship"},
        name="reservation-ship",
    ),
    path("incidents/", ledger_views.incidents, name="incidents"),
    path(
        "incidents/<int:pk>/resolve/",
        ledger_views.incident_resolve_view,
        name="incident-resolve",
    ),
    path("channels/", views.channel_list, name="channels"),
    path("channels/<slug:slug>/", views.channel_detail, name="channel"),
]
