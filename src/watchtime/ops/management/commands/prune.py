"""`watchtime prune --before DATE`: remove events older than DATE, keeping every figure."""

from django.core.management.base import BaseCommand, CommandError

from watchtime.accounting import retention
from watchtime.analytics.ranges import parse_moment
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.errors import DomainError
from watchtime.events import partitions


class Command(BaseCommand):
    help = "Remove events with a key before DATE (floored to a UTC day) while every total and analytics figure stays."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="RFC 3339 date-time or YYYY-MM-DD (floored to midnight UTC)")

    def handle(self, *args, before, **options):
        try:
            day = partitions.day_of_us(parse_moment("before", before))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        try:
            result = retention.prune(before=day, limits=limits_from_settings(), definitions=definitions_from_settings())
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"pruned before {day}: {result.streams_folded} streams folded, {result.events_deleted} events deleted, "
            f"{result.partitions_dropped} partitions dropped"
        )
