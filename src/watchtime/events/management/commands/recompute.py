"""`watchtime recompute`: rebuild every total from the event log."""

from django.core.management.base import BaseCommand

from watchtime.events.ledger import totals_recompute


class Command(BaseCommand):
    help = "Rebuild every total from the event log (stop the consumers first)."

    def handle(self, *args, **options):
        streams = totals_recompute()
        self.stdout.write(f"recomputed {streams} streams")
