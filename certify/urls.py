"""The Certify page, routed from inventory_hub.urls by name (production code does not
import certify)."""

from django.urls import path

from . import views

app_name = "certify"

urlpatterns = [
    path("", views.certify_page, name="page"),
    path("runs/<int:pk>/report/", views.certify_report, name="report"),
]
