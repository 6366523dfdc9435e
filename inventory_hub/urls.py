from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from channels.webhook_views import WebhookIntakeView
from ledger import api as ledger_api

from .health import healthz
from .metrics import metrics_view

api_v1 = [
    path("skus/", ledger_api.SkuListApi.as_view(), name="sku-list"),
    path("skus/bulk/", ledger_api.SkuBulkCreateApi.as_view(), name="sku-bulk-create"),
    path("skus/<str:code>/", ledger_api.SkuDetailApi.as_view(), name="sku-detail"),
    path("locations/", ledger_api.LocationListApi.as_view(), name="location-list"),
    path("movements/", ledger_api.MovementCreateApi.as_view(), name="movement-create"),
    path("receipts/", ledger_api.ReceiptCreateApi.as_view(), name="receipt-create"),
    path("reservations/", ledger_api.ReservationCreateApi.as_view(), name="reservation-create"),
    path(
        "reservations/<int:pk>/",
        ledger_api.ReservationDetailApi.as_view(),
        name="reservation-detail",
    ),
    path(
        "reservations/<int:pk>/release/",
        ledger_api.ReservationReleaseApi.as_view(),
        name="reservation-release",
    ),
    path(
        "reservations/<int:pk>/ship/",
        ledger_api.ReservationShipApi.as_view(),
        name="reservation-ship",
    ),
    path("incidents/", ledger_api.IncidentListApi.as_view(), name="incident-list"),
    path(
        "incidents/<int:pk>/resolve/",
        ledger_api.IncidentResolveApi.as_view(),
        name="incident-resolve",
    ),
    path("", include("channels.api_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("webhooks/<slug:slug>/", WebhookIntakeView.as_view(), name="webhook-intake"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("channels.urls")),
]

if settings.BENCH_ROUTES:
    from bench.views import HmacOnlyView

    urlpatterns.insert(0, path("bench/hmac-only/", HmacOnlyView.as_view(), name="bench-hmac-only"))
