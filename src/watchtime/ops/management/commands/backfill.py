"""`watchtime backfill`: rebuild the analytics of every user-movie that waits for it (after an upgrade)."""

from django.core.management.base import BaseCommand

from watchtime.accounting.rebuild import backfill
from watchtime.definitions import definitions_from_settings, limits_from_settings


class Command(BaseCommand):
    help = "Rebuild from the event log the analytics of user-movies that predate them; resumable, safe beside running consumers."

    def handle(self, *args, **options):
        done = backfill(limits=limits_from_settings(), definitions=definitions_from_settings())
        self.stdout.write(f"backfilled {done} user-movies")
