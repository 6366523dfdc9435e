"""Dashboard routes (login required on every page). Webhook routes live elsewhere.

Namespaced "dashboard": the API under /api/v1/ already uses names like "sku-detail".
"""

from django.urls import path

from .views import channels as channel_views
from .views import incidents as incident_views
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
    path("channels/", channel_views.channel_list, name="channels"),
    path("channels/<slug:slug>/", channel_views.channel_detail, name="channel"),
]
