"""Analytics reads. Each costs O(buckets or results): aggregates are stored per bucket, none grows with the log."""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet

from watchtime.analytics.models import (
    MovieQuarter,
    MovieQuarterReach,
    MovieUtcDay,
    Quarter,
    QuarterReach,
    RetentionBin,
    UserMovieQuarter,
    View,
)
from watchtime.analytics.ranges import Range
from watchtime.db import router
from watchtime.db.bulk_sql import placeholders, table
from watchtime.definitions import Definitions
from watchtime.errors import DomainError
from watchtime.events.models import CustomUser, Event, Movie, WatchTime
from watchtime.rule import coverage, progress
from watchtime.rule.views import View as ViewFact
from watchtime.rule.views import counts, is_complete, percent_watched
from watchtime.rule.zones import QUARTERS_PER_DAY

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


class _Buckets:
    """Sums per local bucket of rows stored per quarter: each quarter falls in one bucket."""

    def __init__(self, span: Range, width: int):
        self.span, self.starts = span, span.starts()
        self.values = [[0] * width for _ in self.starts]

    def index(self, quarter: int) -> int:
        return bisect_right(self.starts, quarter) - 1

    def add(self, quarter: int, column: int, value) -> None:
        self.values[self.index(quarter)][column] += int(value or 0)

    def add_reach(self, quarter: int, previous: int, column: int, value) -> None:
        """A reach row counts in its bucket if the viewer's previous quarter is before the bucket."""
        i = self.index(quarter)
        if previous < self.starts[i]:
            self.values[i][column] += int(value or 0)

    def rows(self) -> list[tuple]:
        """(start, *values) per bucket, with the zone's offset at each start."""
        return [(b.local_start, *v) for b, v in zip(self.span.buckets, self.values, strict=True)]


def _in_span(span: Range) -> tuple[str, list]:
    return "quarter >= %s AND quarter < %s", [span.first_quarter, span.end_quarter]


def movie_series(*, movie_id: int, span: Range) -> list[tuple]:
    """(start, watch_time, viewers) per bucket; viewers distinct in each bucket."""
    out, (where, params) = _Buckets(span, 2), _in_span(span)
    for quarter, watch in _rows(f"SELECT quarter, watch_time FROM {table(MovieQuarter)} WHERE movie_id = %s AND {where}",
                                [movie_id, *params]):
        out.add(quarter, 0, watch)
    for quarter, previous, users in _rows(f"SELECT quarter, previous_quarter, users FROM {table(MovieQuarterReach)}"
                                          f" WHERE movie_id = %s AND {where}", [movie_id, *params]):
        out.add_reach(quarter, previous, 1, users)
    return out.rows()


def user_series(*, user_id: int, span: Range) -> list[tuple]:
    """(start, watch_time, movies) per bucket, from the viewer's own rows."""
    out, (where, params) = _Buckets(span, 2), _in_span(span)
    movies: list[set] = [set() for _ in out.starts]
    for quarter, movie_id, watch in _rows(f"SELECT quarter, movie_id, watch_time FROM {table(UserMovieQuarter)}"
                                          f" WHERE user_id = %s AND {where} AND watch_time > 0", [user_id, *params]):
        out.add(quarter, 0, watch)
        movies[out.index(quarter)].add(movie_id)
    for i, credited in enumerate(movies):
        out.values[i][1] = len(credited)
    return out.rows()


def overall_series(*, span: Range) -> list[tuple]:
    """(start, watch_time, viewers, movies) per bucket."""
    out, (where, params) = _Buckets(span, 3), _in_span(span)
    for quarter, watch in _rows(f"SELECT quarter, watch_time FROM {table(Quarter)} WHERE {where}", params):
        out.add(quarter, 0, watch)
    for quarter, previous, viewers, movies in _rows(
            f"SELECT quarter, previous_quarter, viewers, movies FROM {table(QuarterReach)} WHERE {where}", params):
        out.add_reach(quarter, previous, 1, viewers)
        out.add_reach(quarter, previous, 2, movies)
    return out.rows()


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
    """The movies ranked by one figure over the range's whole local days, ties by id; viewers are
    distinct over the whole range. Views and completions come from the daily counts when the
    thresholds are the configured ones, else from the stored views (O(views in range))."""
    by_default_views = definitions.view == configured.view
    if by == "viewers":
        ranked = _reach(span, None)
    elif by in ("views", "completions") and not by_default_views:
        ranked = {m: v[0 if by == "views" else 1] for m, v in _scanned_views(span, None, definitions).items()}
    else:  # ranked by the database: a range's movie-days are many, the answer is `limit` rows
        column = {"watch_time": "watch_time", "views": "views", "completions": "completions"}[by]
        rows, params = _summed_rows(span, (column,), None)
        ranked = dict(_rows(f"SELECT movie_id, SUM({column}) FROM ({rows}) x GROUP BY movie_id HAVING SUM({column}) > 0"
                            f" ORDER BY SUM({column}) DESC, movie_id LIMIT %s", [*params, limit]))
    top = sorted(((-value, movie_id) for movie_id, value in ranked.items() if value > 0))[:limit]
    ids = [movie_id for _, movie_id in top]
    if not ids:
        return []
    rows, params = _summed_rows(span, ("watch_time", "views", "completions"), ids)
    sums = {m: (w, v, c) for m, w, v, c in _rows(
        f"SELECT movie_id, SUM(watch_time), SUM(views), SUM(completions) FROM ({rows}) x GROUP BY movie_id", params)}
    viewers = _reach(span, ids)
    counted = {m: (v, c) for m, (_, v, c) in sums.items()} if by_default_views else _scanned_views(span, ids, definitions)
    movies = {m.id: m for m in Movie.objects.filter(id__in=ids)}
    return [
        TopMovie(m, movies[m].slug, movies[m].title, sums.get(m, (0,))[0], viewers.get(m, 0), *counted.get(m, (0, 0)))
        for m in ids
    ]


def _summed_rows(span: Range, columns: tuple[str, ...], movie_ids: list[int] | None) -> tuple[str, list]:
    """Rows (movie_id, *columns) adding up to each movie's range: whole UTC days inside, edges by quarter."""
    first, end = span.first_quarter, span.end_quarter
    first_day, end_day = -(-first // QUARTERS_PER_DAY), end // QUARTERS_PER_DAY
    if first_day >= end_day:
        first_day = end_day = first // QUARTERS_PER_DAY + 1
    quarters = "((quarter >= %s AND quarter < %s) OR (quarter >= %s AND quarter < %s))"
    params = [first, min(first_day * QUARTERS_PER_DAY, end), max(end_day * QUARTERS_PER_DAY, first), end]
    days, day_params = "day >= %s AND day < %s", [first_day, end_day]  # empty when no whole day is inside
    if movie_ids is not None:
        only = f" AND movie_id IN ({placeholders(len(movie_ids))})"
        quarters, days, params, day_params = quarters + only, days + only, params + movie_ids, day_params + movie_ids
    listed = ", ".join(columns)
    return (f"SELECT movie_id, {listed} FROM {table(MovieQuarter)} WHERE {quarters}"
            f" UNION ALL SELECT movie_id, {listed} FROM {table(MovieUtcDay)} WHERE {days}", params + day_params)


def _reach(span: Range, movie_ids: list[int] | None) -> dict[int, int]:
    """Distinct viewers over the range per movie: each counted on their first quarter in it."""
    first = span.first_quarter
    where, params = "quarter >= %s AND quarter < %s AND previous_quarter < %s", [first, span.end_quarter, first]
    if movie_ids is not None:
        where += f" AND movie_id IN ({placeholders(len(movie_ids))})"
        params += movie_ids
    return dict(_rows(f"SELECT movie_id, SUM(users) FROM {table(MovieQuarterReach)} WHERE {where} GROUP BY movie_id", params))


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
