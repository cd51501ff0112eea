"""Writing a batch's changes to the totals and every rollup, in the caller's transaction and the
one lock order (locks: user-movie rows under the watch-time locks the caller holds, then users,
then movies, then the overall quarter rows).

The caller collects what changed (credit per user-movie-quarter, covered bins gained or lost,
views before and after, totals) in `Changes`; `write` turns fact deltas into distinct-count
deltas by their transitions through zero, which the `RETURNING` of each upsert tells.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from watchtime.accounting import locks, reach, totals
from watchtime.analytics.models import (
    MovieQuarter,
    MovieQuarterReach,
    MovieUtcDay,
    Quarter,
    QuarterReach,
    RetentionBin,
    UserMovieQuarter,
    UserQuarter,
)
from watchtime.analytics.models import View as ViewRow
from watchtime.db import bulk_sql
from watchtime.events.models import Movie
from watchtime.rule.views import View, ViewDefinition, counts, is_complete
from watchtime.rule.zones import QUARTERS_PER_DAY, quarter_of


@dataclass
class Changes:
    """One batch's changes, keyed by ids and bucket numbers; every value a delta."""

    users: set[int] = field(default_factory=set)  # every user of the batch: locked, and must still exist
    credit: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))  # (user, movie, quarter)
    user_totals: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    movie_totals: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    movie_viewers: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # watch time 0 <-> > 0
    bins: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))  # (movie, bin) -> viewers
    views: list[tuple[int, View | None, View | None]] = field(default_factory=list)  # (movie, before, after)


def _transitions(after: dict[tuple, tuple], deltas: dict[tuple, int]) -> dict[tuple, int]:
    """+1 where the first value went from 0 to > 0, -1 where it went from > 0 to 0."""
    out = {}
    for key, values in after.items():
        new = values[0]
        old = new - deltas[key]
        if (old > 0) != (new > 0):
            out[key] = 1 if new > 0 else -1
    return out


def _summed(items) -> dict:
    """(key, delta) pairs summed per key, zeros dropped."""
    sums: dict = defaultdict(int)
    for key, delta in items:
        sums[key] += delta
    return {k: v for k, v in sums.items() if v}


def _summed_vectors(items, width: int) -> dict:
    """(key, index, delta) triples summed into vectors per key, all-zero vectors dropped."""
    sums: dict = defaultdict(lambda: [0] * width)
    for key, index, delta in items:
        sums[key][index] += delta
    return {k: tuple(v) for k, v in sums.items() if any(v)}


def write(changes: Changes, *, view_definition: ViewDefinition) -> None:
    """Write every rollup a batch changes. Locks users, then movies; the caller holds the
    watch-time locks of every user-movie in `changes.credit`."""
    credit = {(u, q, m): d for (u, m, q), d in changes.credit.items() if d}
    umq = bulk_sql.upsert_add(UserMovieQuarter, ("user_id", "quarter", "movie_id"), ("watch_time",),
                              {k: (d,) for k, d in credit.items()})
    quarter_credited = _transitions(umq, credit)  # (user, quarter, movie) -> +-1: a viewer of the quarter or no more
    pair_reach = reach.deltas(UserMovieQuarter, ("user_id", "movie_id"), "watch_time",
                              {(u, m, q): t for (u, q, m), t in quarter_credited.items()})
    movie_reach = _summed(((m, q, p), d) for (_, m, q, p), d in pair_reach.items())  # (movie, quarter, previous)
    overall: list[tuple[tuple, int, int]] = []  # ((quarter, previous), column, delta); viewers, movies
    _write_users(changes, quarter_credited, overall)
    watch = _write_movies(changes, credit, movie_reach, view_definition, overall)
    # Overall: the hottest rows, last.
    bulk_sql.upsert_add(Quarter, ("quarter",), ("watch_time",), {(q,): (d,) for q, d in watch.items()})
    bulk_sql.upsert_add(QuarterReach, ("quarter", "previous_quarter"), ("viewers", "movies"), _summed_vectors(overall, 2))


def _write_users(changes: Changes, quarter_credited, overall) -> None:
    uq_deltas = _summed(((u, q), t) for (u, q, _), t in quarter_credited.items())
    user_totals = {k: v for k, v in changes.user_totals.items() if v}
    locks.users({*changes.users, *user_totals, *(u for u, _ in uq_deltas)})
    totals.add_to_users(user_totals)
    uq = bulk_sql.upsert_add(UserQuarter, ("user_id", "quarter"), ("credited_movies",), {k: (d,) for k, d in uq_deltas.items()})
    viewers = reach.deltas(UserQuarter, ("user_id",), "credited_movies", _transitions(uq, uq_deltas))
    overall += [((q, p), 0, d) for (_, q, p), d in viewers.items()]


def _write_movies(changes: Changes, credit, movie_reach, view_definition, overall) -> dict[int, int]:
    """The movies' rows; returns the watch time per quarter for the overall row."""
    items = [((m, q), 0, d) for (_, q, m), d in credit.items()]
    movie_ids = {*changes.movie_totals, *changes.movie_viewers, *(m for (m, _), _, _ in items), *(m for m, _ in changes.bins),
                 *(m for m, _, _ in changes.views), *(m for m, _, _ in movie_reach)}
    locks.movies(movie_ids)
    totals.add_to_movies(changes.movie_totals, changes.movie_viewers)

    durations = _durations({m for m, _, _ in changes.views})
    mq_deltas = _summed_vectors(items + _view_items(changes.views, durations, view_definition), 3)
    mq = bulk_sql.upsert_add(MovieQuarter, ("movie_id", "quarter"), ("watch_time", "views", "completions"), mq_deltas)
    movies = reach.deltas(MovieQuarter, ("movie_id",), "watch_time",
                          _transitions(mq, {k: v[0] for k, v in mq_deltas.items()}))
    overall += [((q, p), 1, d) for (_, q, p), d in movies.items()]

    bulk_sql.upsert_add(MovieUtcDay, ("movie_id", "day"), ("watch_time", "views", "completions"), _by_day(mq_deltas))
    bulk_sql.upsert_add(MovieQuarterReach, ("movie_id", "quarter", "previous_quarter"), ("users",),
                        {k: (d,) for k, d in movie_reach.items()})
    bins = {k: (d,) for k, d in changes.bins.items() if d}
    bulk_sql.upsert_add(RetentionBin, ("movie_id", "bin"), ("users",), bins)
    return _summed((q, d) for (_, q), (d, _, _) in mq_deltas.items())


def _by_day(quarter_deltas: dict) -> dict:
    """(movie, quarter) vectors summed into (movie, UTC day) vectors."""
    return _summed_vectors([((m, q // QUARTERS_PER_DAY), i, d) for (m, q), v in quarter_deltas.items()
                            for i, d in enumerate(v)], 3)


def _durations(movie_ids: set[int]) -> dict[int, int | None]:
    """Durations of movies this batch has locked (read after the lock: a PATCH of the duration
    restates the movie's completions under the same lock)."""
    return dict(Movie.objects.filter(id__in=movie_ids).values_list("id", "duration")) if movie_ids else {}


def _view_items(views, durations, definition: ViewDefinition) -> list[tuple[tuple, int, int]]:
    """MovieQuarter (views, completions) deltas: counted views by the quarter each started, before and after."""
    items = []
    for movie_id, before, after in views:
        for view, sign in ((before, -1), (after, 1)):
            if view is None or not counts(view.watch_time, definition):
                continue
            key = (movie_id, quarter_of(view.started_us))
            items.append((key, 1, sign))
            if is_complete(view, durations.get(movie_id), definition):
                items.append((key, 2, sign))
    return items


def restate_completions(*, movie_id: int, duration: int | None, definition: ViewDefinition) -> None:
    """Recount a movie's completions per quarter after its duration changed (the caller holds the
    movie's lock, which every batch touching the movie's rollups also takes)."""
    complete: dict[int, int] = defaultdict(int)
    views = ViewRow.objects.filter(movie_id=movie_id, watch_time__gte=definition.min_view_seconds)
    for started_us, furthest in views.values_list("started_us", "furthest_position"):
        view = View(None, started_us, started_us, definition.min_view_seconds, furthest)
        if is_complete(view, duration, definition):
            complete[quarter_of(started_us)] += 1
    stored = dict(MovieQuarter.objects.filter(movie_id=movie_id, views__gt=0).values_list("quarter", "completions"))
    changed = [(q, complete.get(q, 0)) for q in sorted(set(stored) | set(complete)) if stored.get(q, 0) != complete.get(q, 0)]
    for quarter, completions in changed:
        MovieQuarter.objects.filter(movie_id=movie_id, quarter=quarter).update(completions=completions)
    moved = _summed(((movie_id, q // QUARTERS_PER_DAY), complete.get(q, 0) - stored.get(q, 0)) for q, _ in changed)
    bulk_sql.upsert_add(MovieUtcDay, ("movie_id", "day"), ("watch_time", "views", "completions"),
                        {k: (0, 0, d) for k, d in moved.items()})
