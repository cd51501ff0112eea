"""`watchtime recompute`: rebuild every total and analytics figure from the event log."""

from django.core.management.base import BaseCommand

from watchtime.accounting.audit.analytics import analytics_recompute
from watchtime.accounting.audit.totals import totals_recompute
from watchtime.definitions import definitions_from_settings, limits_from_settings


class Command(BaseCommand):
    help = "Rebuild every total and analytics figure from the event log (stop the consumers first)."

    def handle(self, *args, **options):
        limits = limits_from_settings()
        streams = totals_recompute(limits=limits)
        pairs = analytics_recompute(limits=limits, definitions=definitions_from_settings())
        self.stdout.write(f"recomputed {streams} streams and {pairs} user-movies")
