from django.core.management.base import BaseCommand, CommandError

from watchtime.events.selectors import totals_drift
from watchtime.events.services import limits_from_settings


class Command(BaseCommand):
    help = "Recompute every total from the event log without writing; exit 1 listing any drift."

    def handle(self, *args, **options):
        drift = totals_drift(limits=limits_from_settings())
        for line in drift[:1000]:
            self.stderr.write(line)
        if drift:
            raise CommandError(f"{len(drift)} totals drifted from the event log")
        self.stdout.write("all totals match the event log")
