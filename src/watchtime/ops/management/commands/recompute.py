"""`watchtime recompute`: rebuild every total and analytics figure from the event log."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from watchtime.accounting.audit.analytics import analytics_recompute
from watchtime.accounting.audit.live import live_recompute
from watchtime.accounting.audit.totals import totals_recompute
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.timestamps import to_us


class Command(BaseCommand):
    help = "Rebuild every total and analytics figure from the event log (stop the consumers first)."

    def handle(self, *args, **options):
        limits = limits_from_settings()
        streams = totals_recompute(limits=limits)
        pairs = analytics_recompute(limits=limits, definitions=definitions_from_settings())
        live = live_recompute(now_us=to_us(timezone.now()), window_seconds=settings.WATCHTIME_LIVE_WINDOW_SECONDS, limits=limits)
        self.stdout.write(f"recomputed {streams} streams, {pairs} user-movies and {live} live streams")
