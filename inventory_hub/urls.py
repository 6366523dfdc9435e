from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from channels.intake.views import webhook_intake

from .health import healthz
from .monitoring import metrics_view

handler404 = "foundation.errors.page_not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("webhooks/<slug:slug>/", webhook_intake, name="webhook-intake"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # By name: the project does not import certify (it drives the simulator).
    path("certify/", include("certify.urls")),
    path("", include("dashboard.urls")),
]
