"""Writes to movie metadata: create, update, delete (with its watch time taken off its viewers)."""

from django.db import IntegrityError, transaction

from watchtime.errors import DomainError
from watchtime.events import bulk_sql
from watchtime.events.models import CustomUser, Movie, Stream, WatchTime


def movie_create(*, title: str, slug: str, duration: int | None = None) -> Movie:
    if Movie.objects.filter(slug=slug).exists():
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409)
    try:
        with transaction.atomic():
            return Movie.objects.create(title=title, slug=slug, duration=duration)
    except IntegrityError:
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409) from None


def movie_update(*, movie: Movie, **changes) -> Movie:
    if "slug" in changes and Movie.objects.filter(slug=changes["slug"]).exclude(pk=movie.pk).exists():
        raise DomainError("conflict", f"A movie with slug {changes['slug']!r} already exists.", status=409)
    for name, value in changes.items():
        setattr(movie, name, value)
    movie.save(update_fields=list(changes))
    return movie


@transaction.atomic
def movie_delete(*, movie: Movie) -> None:
    """Delete a movie with its events and subtract its watch time from its viewers' totals."""
    # Same lock order as the apply path: streams, watch times, users.
    bulk_sql.lock_ids(Stream.objects.filter(movie=movie))
    watch_times = WatchTime.objects.filter(id__in=bulk_sql.lock_ids(WatchTime.objects.filter(movie=movie)))
    bulk_sql.increment_locked(CustomUser, "total_watch_time", {wt.user_id: -wt.total for wt in watch_times})
    movie.delete()
