"""`watchtime verify`: check every total and analytics figure against the event log, exit 1 on drift."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from watchtime.accounting.audit.analytics import analytics_drift
from watchtime.accounting.audit.live import live_drift
from watchtime.accounting.audit.totals import totals_drift
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.timestamps import to_us


class Command(BaseCommand):
    help = "Recompute every figure from the event log without writing; exit 1 listing any drift."

    def handle(self, *args, **options):
        limits = limits_from_settings()
        drift = totals_drift(limits=limits) + analytics_drift(limits=limits, definitions=definitions_from_settings())
        drift += live_drift(now_us=to_us(timezone.now()), window_seconds=settings.WATCHTIME_LIVE_WINDOW_SECONDS, limits=limits)
        for line in drift[:1000]:
            self.stderr.write(line)
        if drift:
            raise CommandError(f"{len(drift)} figures drifted from the event log")
        self.stdout.write("all totals and analytics match the event log")
