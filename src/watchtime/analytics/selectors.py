"""Analytics reads. Each costs O(buckets or results): the aggregates are stored per bucket, so
no read grows with the event log."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet

from watchtime.analytics.models import (
    Day,
    Hour,
    MovieDay,
    MovieDayReach,
    MovieHour,
    RetentionBin,
    UserDay,
    UserHour,
    UserMovieHour,
    View,
)
from watchtime.analytics.ranges import DAY, Range, bucket_time
from watchtime.db import router
from watchtime.db.bulk_sql import placeholders, table
from watchtime.definitions import Definitions
from watchtime.errors import DomainError
from watchtime.events.models import CustomUser, Event, Movie, WatchTime
from watchtime.rule import coverage, progress
from watchtime.rule.attribution import HOURS_PER_DAY
from watchtime.rule.views import View as ViewFact
from watchtime.rule.views import counts, is_complete, percent_watched

MAX_ID = 2**63 - 1


def as_of() -> datetime | None:
    """`received_at` of the newest event applied: every figure includes everything up to it."""
    return Event.objects.order_by("-received_at", "-id").values_list("received_at", flat=True).first()


def movie_of(movie_id: int) -> Movie:
    movie = Movie.objects.filter(pk=movie_id).first() if 0 < movie_id <= MAX_ID else None
    if movie is None:
        raise DomainError("not_found", f"No movie with id {movie_id}.", status=404)
    return movie


def user_id_of(username: str) -> int:
    pk = CustomUser.objects.filter(username=username).values_list("id", flat=True).first()
    if pk is None:
        raise DomainError("not_found", f"No user {username!r}.", status=404)
    return pk


def _rows(sql: str, params: list) -> list[tuple]:
    with router.read_connection().cursor() as cursor:  # the replica inside the read views
        cursor.execute(sql, params)
        return cursor.fetchall()


def _dense(span: Range, found: dict[int, tuple], width: int) -> list[tuple]:
    """(start, *values) for every bucket of the range, zeros where nothing is stored."""
    zeros = (0,) * width
    return [(bucket_time(b, span.interval), *found.get(b, zeros)) for b in span.buckets()]


def movie_series(*, movie_id: int, span: Range) -> list[tuple]:
    """(start, watch_time, viewers) per bucket."""
    if span.interval is DAY:
        watch = dict(MovieDay.objects.filter(movie_id=movie_id, day__gte=span.first, day__lt=span.end).values_list("day", "watch_time"))
        viewers = _day_viewers(movie_id, span)
        return _dense(span, {d: (watch.get(d, 0), viewers.get(d, 0)) for d in {*watch, *viewers}}, 2)
    rows = MovieHour.objects.filter(movie_id=movie_id, hour__gte=span.first, hour__lt=span.end)
    return _dense(span, {h: (w, v) for h, w, v in rows.values_list("hour", "watch_time", "viewers")}, 2)


def _day_viewers(movie_id: int, span: Range) -> dict[int, int]:
    """A movie's viewers per day: its reach rows of each day, whatever the day before."""
    rows = _rows(
        f"SELECT day, SUM(users) FROM {table(MovieDayReach)} WHERE movie_id = %s AND day >= %s AND day < %s GROUP BY day",
        [movie_id, span.first, span.end],
    )
    return dict(rows)


def user_series(*, user_id: int, span: Range) -> list[tuple]:
    """(start, watch_time, movies) per bucket, from the viewer's own rows."""
    umh = table(UserMovieHour)
    if span.interval is DAY:
        first, end = span.first * HOURS_PER_DAY, span.end * HOURS_PER_DAY
        watch = dict(_rows(f"SELECT hour / {HOURS_PER_DAY}, SUM(watch_time) FROM {umh} WHERE user_id = %s AND hour >= %s"
                           f" AND hour < %s GROUP BY hour / {HOURS_PER_DAY}", [user_id, first, end]))
        movies = dict(UserDay.objects.filter(user_id=user_id, day__gte=span.first, day__lt=span.end).values_list("day", "credited_movies"))
    else:
        watch = dict(_rows(f"SELECT hour, SUM(watch_time) FROM {umh} WHERE user_id = %s AND hour >= %s AND hour < %s GROUP BY hour",
                           [user_id, span.first, span.end]))
        movies = dict(UserHour.objects.filter(user_id=user_id, hour__gte=span.first, hour__lt=span.end).values_list("hour", "credited_movies"))
    return _dense(span, {b: (watch.get(b, 0), movies.get(b, 0)) for b in {*watch, *movies}}, 2)


def overall_series(*, span: Range) -> list[tuple]:
    """(start, watch_time, viewers, movies) per bucket."""
    if span.interval is DAY:
        rows = Day.objects.filter(day__gte=span.first, day__lt=span.end).values_list("day", "watch_time", "viewers", "movies")
    else:
        rows = Hour.objects.filter(hour__gte=span.first, hour__lt=span.end).values_list("hour", "watch_time", "viewers", "movies")
    return _dense(span, {b: tuple(v) for b, *v in rows}, 3)


@dataclass(frozen=True)
class TopMovie:
    id: int
    slug: str
    title: str
    watch_time: int
    viewers: int
    views: int
    completions: int


TOP_BY = ("watch_time", "viewers", "views", "completions")


def top_movies(*, span: Range, by: str, limit: int, definitions: Definitions, configured: Definitions) -> list[TopMovie]:
    """The movies ranked by one figure over whole days [first, end), ties by id; viewers are
    distinct over the whole range. Views and completions come from the daily counts when the
    thresholds are the configured ones, else from the stored views (O(views in range))."""
    by_default_views = definitions.view == configured.view
    if by == "viewers":
        ranked = _reach(span, None)
    elif by in ("views", "completions") and not by_default_views:
        ranked = {m: v[0 if by == "views" else 1] for m, v in _scanned_views(span, None, definitions).items()}
    else:  # ranked by the database: a range's movie-days are many, the answer is `limit` rows
        column = {"watch_time": "watch_time", "views": "views", "completions": "completions"}[by]
        ranked = dict(_rows(f"SELECT movie_id, SUM({column}) FROM {table(MovieDay)} WHERE day >= %s AND day < %s"
                            f" GROUP BY movie_id HAVING SUM({column}) > 0 ORDER BY SUM({column}) DESC, movie_id LIMIT %s",
                            [span.first, span.end, limit]))
    top = sorted(((-value, movie_id) for movie_id, value in ranked.items() if value > 0))[:limit]
    ids = [movie_id for _, movie_id in top]
    if not ids:
        return []
    watch = dict(_rows(f"SELECT movie_id, SUM(watch_time) FROM {table(MovieDay)} WHERE day >= %s AND day < %s"
                       f" AND movie_id IN ({placeholders(len(ids))}) GROUP BY movie_id", [span.first, span.end, *ids]))
    viewers = _reach(span, ids)
    if by_default_views:
        counted = {m: (v, c) for m, v, c in _rows(
            f"SELECT movie_id, SUM(views), SUM(completions) FROM {table(MovieDay)} WHERE day >= %s AND day < %s"
            f" AND movie_id IN ({placeholders(len(ids))}) GROUP BY movie_id", [span.first, span.end, *ids])}
    else:
        counted = _scanned_views(span, ids, definitions)
    movies = {m.id: m for m in Movie.objects.filter(id__in=ids)}
    return [
        TopMovie(m, movies[m].slug, movies[m].title, watch.get(m, 0), viewers.get(m, 0), *counted.get(m, (0, 0)))
        for m in ids
    ]


def _reach(span: Range, movie_ids: list[int] | None) -> dict[int, int]:
    """Distinct viewers over the range per movie: each counted on their first day in it."""
    where, params = "day >= %s AND day < %s AND previous_day < %s", [span.first, span.end, span.first]
    if movie_ids is not None:
        where += f" AND movie_id IN ({placeholders(len(movie_ids))})"
        params += movie_ids
    return dict(_rows(f"SELECT movie_id, SUM(users) FROM {table(MovieDayReach)} WHERE {where} GROUP BY movie_id", params))


def _scanned_views(span: Range, movie_ids: list[int] | None, definitions: Definitions) -> dict[int, tuple[int, int]]:
    """(views, completions) per movie from the stored views, under the request's thresholds."""
    views = View.objects.filter(started_us__gte=span.start_us, started_us__lt=span.end_us,
                                watch_time__gte=definitions.view.min_view_seconds)
    if movie_ids is not None:
        views = views.filter(movie_id__in=movie_ids)
    durations = dict(Movie.objects.values_list("id", "duration")) if movie_ids is None else dict(
        Movie.objects.filter(id__in=movie_ids).values_list("id", "duration"))
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for movie_id, started, furthest, watch_time in views.values_list("movie_id", "started_us", "furthest_position", "watch_time"):
        out[movie_id][0] += 1
        if is_complete(ViewFact(None, started, started, watch_time, furthest), durations.get(movie_id), definitions.view):
            out[movie_id][1] += 1
    return {m: tuple(v) for m, v in out.items()}


def progress_list(*, user_id: int, state: str, definitions: Definitions) -> QuerySet[WatchTime]:
    """The viewer's user-movies in `state` (or "all"), not hidden; ordered by the API's cursor."""
    completed_percent = definitions.progress.completed_percent
    rows = (
        WatchTime.objects.filter(user_id=user_id)
        .exclude(progress_hidden_event_id=F("last_event_id"))
        .select_related("movie")
        .only("id", "last_moment", "total", "last_watched_us", "movie__id", "movie__slug", "movie__title", "movie__duration")
    )
    # percent >= completed_percent, in integers: 100 x position >= completed_percent x duration.
    rows = rows.alias(position_share=F("last_moment") * 100, completed_share=F("movie__duration") * completed_percent)
    completed = Q(movie__duration__gt=0, position_share__gte=F("completed_share"))
    if state == progress.COMPLETED:
        rows = rows.filter(completed)
    elif state == progress.IN_PROGRESS:
        rows = rows.exclude(completed).filter(last_moment__gt=0)
    return rows


@dataclass(frozen=True)
class Engagement:
    views: int
    viewers: int
    watch_time: int
    average_view_seconds: float | None
    completions: int | None
    completion_rate: float | None
    average_percent: float | None


def engagement(*, movie: Movie, start_us: int | None, end_us: int | None, definitions: Definitions) -> Engagement:
    """Over the movie's counted views that started in [start, end): O(those views)."""
    views = View.objects.filter(movie_id=movie.pk, watch_time__gte=definitions.view.min_view_seconds)
    if start_us is not None:
        views = views.filter(started_us__gte=start_us)
    if end_us is not None:
        views = views.filter(started_us__lt=end_us)
    count, watch_time, completions, percent_sum = 0, 0, 0, 0.0
    users = set()
    for user_id, started, furthest, seconds in views.values_list("user_id", "started_us", "furthest_position", "watch_time"):
        count += 1
        watch_time += seconds
        users.add(user_id)
        if is_complete(ViewFact(None, started, started, seconds, furthest), movie.duration, definitions.view):
            completions += 1
        percent_sum += percent_watched(seconds, movie.duration) or 0.0
    has_duration = bool(movie.duration)
    return Engagement(
        views=count,
        viewers=len(users),
        watch_time=watch_time,
        average_view_seconds=watch_time / count if count else None,
        completions=completions if has_duration else None,
        completion_rate=completions / count if has_duration and count else None,
        average_percent=percent_sum / count if has_duration and count else None,
    )


def user_views(*, user_id: int, definitions: Definitions) -> QuerySet[View]:
    """The viewer's counted views; ordered by the API's cursor."""
    return (
        View.objects.filter(user_id=user_id, watch_time__gte=definitions.view.min_view_seconds)
        .select_related("movie", "stream")
        .only("id", "started_us", "ended_us", "watch_time", "furthest_position", "movie__id", "movie__slug",
              "movie__duration", "stream__session")
    )


@dataclass(frozen=True)
class Retention:
    duration: int | None
    viewers: int
    bins: list[tuple[int, int, float | None]]  # (start position, viewers, retention)


def retention(*, movie: Movie, resolution: int) -> Retention:
    """The movie's audience retention per bin: O(bins), whatever the number of viewers."""
    stored = dict(RetentionBin.objects.filter(movie_id=movie.pk, users__gt=0).values_list("bin", "users"))
    count = coverage.bin_count(movie.duration, max(stored, default=-1) + 1, resolution)
    return Retention(
        duration=movie.duration,
        viewers=movie.viewers,
        bins=[(k * resolution, stored.get(k, 0), stored.get(k, 0) / movie.viewers if movie.viewers else None)
              for k in range(count)],
    )


def view_completed(view: View, definitions: Definitions) -> bool | None:
    fact = ViewFact(view.id, view.started_us, view.ended_us, view.watch_time, view.furthest_position)
    return is_complete(fact, view.movie.duration, definitions.view) if counts(view.watch_time, definitions.view) else None
