from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The htmx pages for merchants and staff, and the reads only they need."""

    name = "dashboard"
