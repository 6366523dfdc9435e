"""``manage.py simulate_channels --port P``: run the channel simulator in the foreground.

Every channel kind is served on the one port: a store lives at
``http://HOST:PORT/<kind>/<store>`` and the control API at ``http://HOST:PORT/_control``
(see :mod:`simulator`). With ``--stores-from-hub`` it first creates one store per
channel in the hub's database (named after the channel's slug, stocked with the listings'
published quantities, sending webhooks to ``--web-url``), so the demo works even when the
simulator starts after the hub was seeded. Stops cleanly on Ctrl-C and SIGTERM.
"""

import logging
import os
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from simulator.server import ChannelSimulator


class Command(BaseCommand):
    help = "Run the channel simulator (every channel kind on one port)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="port to listen on")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument(
            "--seed", type=int, default=None, help="seed for injected errors and shuffling"
        )
        parser.add_argument(
            "--webhook-timeout",
            type=float,
            default=10.0,
            help="seconds to wait for the hub when delivering a webhook",
        )
        parser.add_argument(
            "--stores-from-hub",
            action="store_true",
            help="create a store for every channel in the hub's database before serving",
        )
        parser.add_argument(
            "--web-url",
            default=f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}",
            help="the hub's address, for the webhook URLs of --stores-from-hub",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] >= 2:
            logging.getLogger("simulator").setLevel(logging.DEBUG)
        try:
            simulator = ChannelSimulator(
                options["host"],
                options["port"],
                seed=options["seed"],
                webhook_timeout=options["webhook_timeout"],
            )
        except OSError as exc:
            address = f"{options['host']}:{options['port']}"
            raise CommandError(f"cannot listen on {address}: {exc}") from exc
        if options["stores_from_hub"]:
            self._stores_from_hub(simulator, options["web_url"].rstrip("/"))

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Channel simulator listening on {simulator.url}")
        self.stdout.flush()
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Channel simulator stopped.")

    def _stores_from_hub(self, simulator: ChannelSimulator, web_url: str) -> None:
        from channels.models import Channel
        from simulator.demo import store_spec

        try:
            channels = list(Channel.objects.all())
        except DatabaseError as exc:
            self.stderr.write(f"No stores from the hub (database not ready: {exc}).")
            return
        for channel in channels:
            spec = store_spec(channel, web_url=web_url)
            try:
                simulator.create_store(spec)
            except ValueError as exc:
                self.stderr.write(f"Store {channel.slug!r} not created: {exc}")
                continue
            self.stdout.write(f"Store {channel.kind}/{channel.slug}: {len(spec['levels'])} SKUs")
