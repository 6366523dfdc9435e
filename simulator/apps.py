from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """The channel simulator and the demo: shipped with the product for trying and
    certifying the hub; no production module imports it."""

    name = "simulator"
