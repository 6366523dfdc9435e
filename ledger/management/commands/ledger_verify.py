import json

from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Recompute every stock level from its movements; exit non-zero on any mismatch."

    def handle(self, *args, **options):
        mismatches = ledger_mismatches()
        if mismatches:
            for mismatch in mismatches:
                self.stderr.write(json.dumps(mismatch))
            raise CommandError(f"{len(mismatches)} stock level(s) disagree with the ledger.")
        self.stdout.write(self.style.SUCCESS("ledger ok: every stock level equals its movements"))
