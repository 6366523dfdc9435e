"""The hub's URLs plus the benchmarks' baseline views (settings: BENCH_ROUTES=1)."""

from django.urls import path

from bench.views import HmacOnlyView
from inventory_hub.urls import urlpatterns as hub_urlpatterns

urlpatterns = [
    path("bench/hmac-only/", HmacOnlyView.as_view(), name="bench-hmac-only"),
    *hub_urlpatterns,
]
