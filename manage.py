#!/usr/bin/env python
"""Django's command-line utility for Inventory Hub."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
    from django.core.management import execute_from_command_line

    from foundation import var

    var.prepare()

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
