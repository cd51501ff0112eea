"""`watchtime verify`: check every total and analytics figure against the event log, exit 1 on drift."""

from django.core.management.base import BaseCommand, CommandError

from watchtime.accounting.audit.analytics import analytics_drift
from watchtime.accounting.audit.totals import totals_drift
from watchtime.definitions import definitions_from_settings, limits_from_settings


class Command(BaseCommand):
    help = "Recompute every figure from the event log without writing; exit 1 listing any drift."

    def handle(self, *args, **options):
        limits = limits_from_settings()
        drift = totals_drift(limits=limits) + analytics_drift(limits=limits, definitions=definitions_from_settings())
        for line in drift[:1000]:
            self.stderr.write(line)
        if drift:
            raise CommandError(f"{len(drift)} figures drifted from the event log")
        self.stdout.write("all totals and analytics match the event log")
