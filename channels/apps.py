from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = "Sales channels"

    def ready(self) -> None:
        # The ledger tells us, inside its transaction, what changed: new SKUs are listed
        # on every channel that carries their code, and every stock change refreshes the
        # published quantities and writes the outbox rows in the same transaction.
        # (Imported here: models may be imported only once the app registry is ready.)
        from ledger import hooks

        # The tasks register with Celery here, in every process: the services publish
        # them by name, and a web process would otherwise not know them.
        from . import tasks  # noqa: F401
        from .propagation.outbox import outbox_refresh_on_stock_change
        from .services import listings_match_new_skus

        hooks.on_stock_changed(outbox_refresh_on_stock_change)
        hooks.on_skus_created(listings_match_new_skus)
