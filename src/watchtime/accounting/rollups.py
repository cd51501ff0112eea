"""Writing a batch's changes to the totals and every rollup, in the caller's transaction and the
one lock order (locks: user-movie rows under the watch-time locks the caller holds, then users,
then movies, then the overall hour and day rows).

The caller collects what changed (credit per user-movie-hour, covered bins gained or lost,
views before and after, totals) in `Changes`; `write` turns fact deltas into distinct-count
deltas by their transitions through zero, which the `RETURNING` of each upsert tells.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from watchtime.accounting import locks, totals
from watchtime.analytics.models import (
    NEVER,
    Day,
    Hour,
    MovieDay,
    MovieDayReach,
    MovieHour,
    RetentionBin,
    UserDay,
    UserHour,
    UserMovieDay,
    UserMovieHour,
)
from watchtime.analytics.models import View as ViewRow
from watchtime.db import bulk_sql
from watchtime.events.models import Movie
from watchtime.rule.attribution import HOURS_PER_DAY, day_of
from watchtime.rule.views import View, ViewDefinition, counts, is_complete


@dataclass
class Changes:
    """One batch's changes, keyed by ids and bucket numbers; every value a delta."""

    users: set[int] = field(default_factory=set)  # every user of the batch: locked, and must still exist
    credit: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))  # (user, movie, hour)
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
    credit = {(u, h, m): d for (u, m, h), d in changes.credit.items() if d}
    umh = bulk_sql.upsert_add(UserMovieHour, ("user_id", "hour", "movie_id"), ("watch_time",),
                              {k: (d,) for k, d in credit.items()})
    hour_credited = _transitions(umh, credit)  # (user, hour, movie) -> +-1: a viewer of the hour or no more
    umd_deltas = _summed(((u, h // HOURS_PER_DAY, m), t) for (u, h, m), t in hour_credited.items())
    umd = bulk_sql.upsert_add(UserMovieDay, ("user_id", "day", "movie_id"), ("credited_hours",),
                              {k: (d,) for k, d in umd_deltas.items()})
    day_credited = _transitions(umd, umd_deltas)  # (user, day, movie) -> +-1
    reach = _reach_deltas(day_credited)

    overall: list[tuple[tuple, int, int]] = []  # ((hour,) or (day,) key, column, delta); watch time, viewers, movies
    overall_days: list[tuple[tuple, int, int]] = []
    _write_users(changes, hour_credited, day_credited, overall, overall_days)
    _write_movies(changes, credit, hour_credited, reach, view_definition, overall, overall_days)
    # Overall: the hottest rows, last.
    bulk_sql.upsert_add(Hour, ("hour",), ("watch_time", "viewers", "movies"), _summed_vectors(overall, 3))
    bulk_sql.upsert_add(Day, ("day",), ("watch_time", "viewers", "movies"), _summed_vectors(overall_days, 3))


def _write_users(changes: Changes, hour_credited, day_credited, overall, overall_days) -> None:
    uh_deltas = _summed(((u, h), t) for (u, h, _), t in hour_credited.items())
    ud_deltas = _summed(((u, day), t) for (u, day, _), t in day_credited.items())
    user_totals = {k: v for k, v in changes.user_totals.items() if v}
    locks.users({*changes.users, *user_totals, *(u for u, _ in uh_deltas), *(u for u, _ in ud_deltas)})
    totals.add_to_users(user_totals)
    uh = bulk_sql.upsert_add(UserHour, ("user_id", "hour"), ("credited_movies",), {k: (d,) for k, d in uh_deltas.items()})
    ud = bulk_sql.upsert_add(UserDay, ("user_id", "day"), ("credited_movies",), {k: (d,) for k, d in ud_deltas.items()})
    overall += [((h,), 1, t) for (_, h), t in _transitions(uh, uh_deltas).items()]
    overall_days += [((day,), 1, t) for (_, day), t in _transitions(ud, ud_deltas).items()]


def _write_movies(changes: Changes, credit, hour_credited, reach, view_definition, overall, overall_days) -> None:
    mh_deltas = _summed_vectors(
        [((m, h), 0, d) for (_, h, m), d in credit.items()] + [((m, h), 1, t) for (_, h, m), t in hour_credited.items()], 2
    )
    movie_ids = {*changes.movie_totals, *changes.movie_viewers, *(m for m, _ in mh_deltas), *(m for m, _ in changes.bins),
                 *(m for m, _, _ in changes.views), *(m for m, _, _ in reach)}
    locks.movies(movie_ids)
    totals.add_to_movies(changes.movie_totals, changes.movie_viewers)

    mh = bulk_sql.upsert_add(MovieHour, ("movie_id", "hour"), ("watch_time", "viewers"), mh_deltas)
    overall += [((h,), 0, d) for (_, h), (d, _) in mh_deltas.items()]
    overall += [((h,), 2, t) for (_, h), t in _transitions(mh, {k: v[0] for k, v in mh_deltas.items()}).items()]

    durations = _durations({m for m, _, _ in changes.views})
    md_items = [((m, h // HOURS_PER_DAY), 0, d) for (m, h), (d, _) in mh_deltas.items()]
    md_items += _view_items(changes.views, durations, view_definition)
    md_deltas = _summed_vectors(md_items, 3)
    md = bulk_sql.upsert_add(MovieDay, ("movie_id", "day"), ("watch_time", "views", "completions"), md_deltas)
    overall_days += [((day,), 0, d) for (_, day), (d, _, _) in md_deltas.items()]
    overall_days += [((day,), 2, t) for (_, day), t in _transitions(md, {k: v[0] for k, v in md_deltas.items()}).items()]

    bulk_sql.upsert_add(MovieDayReach, ("movie_id", "day", "previous_day"), ("users",), {k: (d,) for k, d in reach.items()})
    bins = {k: (d,) for k, d in changes.bins.items() if d}
    bulk_sql.upsert_add(RetentionBin, ("movie_id", "bin"), ("users",), bins)


def _durations(movie_ids: set[int]) -> dict[int, int | None]:
    """Durations of movies this batch has locked (read after the lock: a PATCH of the duration
    restates the movie's completions under the same lock)."""
    return dict(Movie.objects.filter(id__in=movie_ids).values_list("id", "duration")) if movie_ids else {}


def _view_items(views, durations, definition: ViewDefinition) -> list[tuple[tuple, int, int]]:
    """MovieDay (views, completions) deltas: counted views by the day each started, before and after."""
    items = []
    for movie_id, before, after in views:
        for view, sign in ((before, -1), (after, 1)):
            if view is None or not counts(view.watch_time, definition):
                continue
            key = (movie_id, day_of(view.started_us))
            items.append((key, 1, sign))
            if is_complete(view, durations.get(movie_id), definition):
                items.append((key, 2, sign))
    return items


def _reach_deltas(day_credited: dict[tuple, int]) -> dict[tuple, int]:
    """MovieDayReach deltas of user-movies whose set of credited days changed this batch.

    Each credited day d of a user-movie contributes one to (movie, d, the previous credited day);
    the contribution of the set before and after is compared (read after this batch's
    UserMovieDay upsert, so 'after' is what is stored)."""
    changed: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for (u, day, m), t in day_credited.items():
        changed[(u, m)][day] = t
    if not changed:
        return {}
    after_days: dict[tuple[int, int], list[int]] = defaultdict(list)
    table = bulk_sql.table(UserMovieDay)
    pairs = sorted(changed)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(pairs):
            cursor.execute(
                f"SELECT user_id, movie_id, day FROM {table} WHERE credited_hours > 0 AND (user_id, movie_id) IN "
                f"(VALUES {', '.join(['(%s, %s)'] * len(chunk))}) ORDER BY user_id, movie_id, day",
                [v for pair in chunk for v in pair],
            )
            for u, m, day in cursor.fetchall():
                after_days[(u, m)].append(day)
    deltas: dict[tuple, int] = defaultdict(int)
    for (u, m), transitions in changed.items():
        after = after_days.get((u, m), [])
        before = sorted({d for d in after if transitions.get(d) != 1} | {d for d, t in transitions.items() if t == -1})
        for days, sign in ((before, -1), (after, 1)):
            previous = NEVER
            for day in days:
                deltas[(m, day, previous)] += sign
                previous = day
    return {k: v for k, v in deltas.items() if v}


def restate_completions(*, movie_id: int, duration: int | None, definition: ViewDefinition) -> None:
    """Recount a movie's completions per day after its duration changed (the caller holds the
    movie's lock, which every batch touching the movie's rollups also takes)."""
    complete: dict[int, int] = defaultdict(int)
    views = ViewRow.objects.filter(movie_id=movie_id, watch_time__gte=definition.min_view_seconds)
    for started_us, furthest in views.values_list("started_us", "furthest_position"):
        view = View(None, started_us, started_us, definition.min_view_seconds, furthest)
        if is_complete(view, duration, definition):
            complete[day_of(started_us)] += 1
    days = set(MovieDay.objects.filter(movie_id=movie_id).values_list("day", flat=True))
    for day in sorted(days | set(complete)):
        MovieDay.objects.filter(movie_id=movie_id, day=day).update(completions=complete.get(day, 0))
