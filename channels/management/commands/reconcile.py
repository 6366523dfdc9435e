"""python manage.py reconcile [--channel SLUG] [--dry-run] [--full]: reconcile now.

Reads every listing's quantity on the channel (in batches, within its rate limits),
records drift, lets the investigator act on it, and prints what it found. A progress
bar is drawn when the output is a terminal. --dry-run reads and compares but records
no drift, corrects nothing and changes no listing.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from channels.models import Channel
from channels.reconcile.runs import reconcile_channel


class Bar:
    def __init__(self, stream, label: str) -> None:
        self.stream, self.label = stream, label
        self.live = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.live:
            return
        width = 30
        filled = int(width * done / total) if total else width
        self.stream.write(
            f"\r{self.label:<20} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        )
        self.stream.flush()

    def end(self) -> None:
        if self.live:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Reconcile channels now: read their quantities and record drift."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--channel", help="Only this channel (its slug).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Compare only: no drift recorded, nothing corrected (the run is kept, marked).",
        )
        parser.add_argument(
            "--full", action="store_true", help="The full-catalogue pass (also unmapped)."
        )

    def handle(self, *args, channel=None, dry_run=False, full=False, **options) -> None:
        channels = Channel.objects.filter(enabled=True).order_by("slug")
        if channel:
            channels = channels.filter(slug=channel)
            if not channels.exists():
                raise CommandError(f"No enabled channel with slug {channel!r}.")
        failed = False
        for each in channels:
            if each.needs_action:
                self.stdout.write(
                    f"{each.slug}: skipped, the channel needs action: {each.needs_action}"
                )
                continue
            bar = Bar(sys.stderr, each.slug)
            run = reconcile_channel(
                channel_id=each.pk,
                full=True if full else None,
                dry_run=dry_run,
                trigger="command",
                progress=bar,
            )
            bar.end()
            if run is None:
                self.stdout.write(f"{each.slug}: skipped (another reconcile is running)")
                continue
            failed |= run.status != "finished"
            prefix = "[dry run] " if dry_run else ""
            self.stdout.write(
                f"{prefix}{each.slug}: run {run.pk} {run.status}: "
                f"{run.listings_checked} checked, {run.drift_found} drift "
                f"({run.auto_corrected} auto-corrected, {run.escalated} escalated, "
                f"{run.drift_resolved} resolved), {run.pending_skipped} pending, "
                f"{run.not_on_channel} not on channel, {run.discovered} newly listed, "
                f"{run.errors} errors"
            )
        if failed:
            raise CommandError("A reconcile did not finish; it resumes on its next run.")
