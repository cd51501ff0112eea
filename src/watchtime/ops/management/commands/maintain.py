"""`watchtime maintain`: event-log partitions ahead, the retention prune, old concurrency minutes folded
into quarter peaks, old erasures forgotten, live rows long past the window deleted, ANALYZE (the CronJob)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from watchtime.accounting import concurrency_peaks, live, retention
from watchtime.accounting.rebuild import pending_pairs
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events import horizon, partitions
from watchtime.privacy.tombstones import erasures_expire
from watchtime.timestamps import to_us

DAYS_AHEAD = 14


class Command(BaseCommand):
    help = "Create event-log partitions ahead, prune past WATCHTIME_EVENT_RETENTION_DAYS, ANALYZE. Idempotent."

    def handle(self, *args, **options):
        if connection.vendor == "postgresql":
            # From today, or from the horizon if a prune cut later (no key before it is kept).
            today = timezone.now().date()
            pruned = horizon.pruned_before_us()
            first = max(today, partitions.day_of_us(pruned)) if pruned is not None else today
            created = partitions.ensure_ahead(connection, first_day=first, days=DAYS_AHEAD)
            self.stdout.write(f"partitions: {len(created)} created, {DAYS_AHEAD} days ahead covered")
        cut = horizon.nominal_horizon_us(timezone.now())
        if cut is None:
            self.stdout.write("retention: WATCHTIME_EVENT_RETENTION_DAYS is unset, nothing pruned")
        elif pending_pairs(1):
            self.stdout.write("retention: the analytics backfill has not finished; the prune waits for it")
        else:
            before = partitions.day_of_us(cut)
            try:
                result = retention.prune(before=before, limits=limits_from_settings(), definitions=definitions_from_settings())
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"retention: {settings.WATCHTIME_EVENT_RETENTION_DAYS} days, pruned before {before}: "
                f"{result.streams_folded} streams folded, {result.events_deleted} events deleted, "
                f"{result.partitions_dropped} partitions dropped"
            )
        days = settings.WATCHTIME_CONCURRENCY_MINUTE_DAYS
        folded = concurrency_peaks.fold(now=timezone.now(), minute_days=days)
        self.stdout.write(f"concurrency: {folded} quarter hours older than {days} days folded into peaks")
        self.stdout.write(f"erasures: {erasures_expire(now=timezone.now())} forgotten")
        expired = live.expire(now_us=to_us(timezone.now()), window_seconds=settings.WATCHTIME_LIVE_WINDOW_SECONDS)
        self.stdout.write(f"live: {expired} streams long past the window forgotten")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
