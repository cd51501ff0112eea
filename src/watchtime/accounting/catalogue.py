"""The movie catalogue's writes: create, update (a new duration restates completions), delete
(with its watch time taken off its viewers and every figure it is part of)."""

from django.db import IntegrityError, transaction

from watchtime.accounting import concurrency, locks, rebuild, rollups
from watchtime.analytics.models import (
    LiveStream,
    MovieMinute,
    MovieQuarter,
    MovieQuarterPeak,
    MovieQuarterReach,
    MovieUtcDay,
    RetentionBin,
)
from watchtime.definitions import definitions_from_settings
from watchtime.errors import DomainError
from watchtime.events.models import Movie, Stream


def movie_create(*, title: str, slug: str, duration: int | None = None) -> Movie:
    if Movie.objects.filter(slug=slug).exists():
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409)
    try:
        with transaction.atomic():
            return Movie.objects.create(title=title, slug=slug, duration=duration)
    except IntegrityError:
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409) from None


@transaction.atomic
def movie_update(*, movie: Movie, **changes) -> Movie:
    """A new duration restates the movie's completions (counted from its stored views)."""
    if "slug" in changes and Movie.objects.filter(slug=changes["slug"]).exclude(pk=movie.pk).exists():
        raise DomainError("conflict", f"A movie with slug {changes['slug']!r} already exists.", status=409)
    locks.movies([movie.pk])
    for name, value in changes.items():
        setattr(movie, name, value)
    movie.save(update_fields=list(changes))
    if "duration" in changes:
        rollups.restate_completions(movie_id=movie.pk, duration=movie.duration, definition=definitions_from_settings().view)
    return movie


@transaction.atomic
def movie_delete(*, movie: Movie) -> None:
    """Delete a movie with its events, taking its watch time off its viewers' totals and every
    analytics figure it is part of."""
    rebuild.remove_pairs(locks.movie_pairs(movie.pk), definitions_from_settings())
    concurrency.remove_streams(list(Stream.objects.filter(movie_id=movie.pk).values_list("id", flat=True)))
    for model in (MovieQuarter, MovieUtcDay, MovieQuarterReach, RetentionBin, LiveStream, MovieMinute, MovieQuarterPeak):
        model.objects.filter(movie_id=movie.pk).delete()
    movie.delete()
