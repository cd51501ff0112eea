"""`watchtime livetoken`: print a signed, expiring, read-only token for one movie's live counter."""

import time

from django.core.management.base import BaseCommand, CommandError

from watchtime.apikeys import livetokens
from watchtime.events.models import Movie


class Command(BaseCommand):
    help = "Print a read-only token for GET /movies/<id>/live/?token=... (the embeddable live counter)."

    def add_arguments(self, parser):
        parser.add_argument("--movie", type=int, required=True, help="the movie's id")
        parser.add_argument("--ttl", default="30d", help="how long it is valid: 90s, 15m, 12h, 30d (default 30d)")

    def handle(self, *args, movie, ttl, **options):
        try:
            seconds = livetokens.parse_ttl(ttl)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not Movie.objects.filter(pk=movie).exists():
            raise CommandError(f"No movie with id {movie}.")
        expires = int(time.time()) + seconds
        self.stderr.write(f"read-only live token for movie {movie}, valid until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))}:")
        self.stdout.write(livetokens.sign(movie_id=movie, expires=expires))
