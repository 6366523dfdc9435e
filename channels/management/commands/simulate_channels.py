"""``manage.py simulate_channels --port P``: run the channel simulator in the foreground.

Every channel kind is served on the one port: a store lives at
``http://HOST:PORT/<kind>/<store>`` and the control API at ``http://HOST:PORT/_control``
(see :mod:`channels.simulator`). Stops cleanly on Ctrl-C and SIGTERM.
"""

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.simulator.server import ChannelSimulator


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] >= 2:
            logging.getLogger("channels.simulator").setLevel(logging.DEBUG)
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

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"Channel simulator listening on {simulator.url}", ending="\n")
        self.stdout.flush()
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Channel simulator stopped.")
