"""`watchtime verify`: check every total against the event log, exit 1 on drift."""

from django.core.management.base import BaseCommand, CommandError

from watchtime.events.definitions import limits_from_settings
from watchtime.events.ledger import totals_drift


class Command(BaseCommand):
    help = "Recompute every total from the event log without writing; exit 1 listing any drift."

    def handle(self, *args, **options):
        drift = totals_drift(limits=limits_from_settings())
        for line in drift[:1000]:
            self.stderr.write(line)
        if drift:
            raise CommandError(f"{len(drift)} totals drifted from the event log")
        self.stdout.write("all totals match the event log")
