"""Each aggregate table as a query over the rows below it: the one definition that `verify`
compares with what is stored and `recompute` writes. Facts per viewer (UserMovieHour, views,
coverage) are checked against the event log elsewhere (audit.analytics); here every level is checked
against the level under it, so together they tie every figure to the log.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from watchtime.analytics.models import (
    NEVER,
    Day,
    Hour,
    MovieDay,
    MovieDayReach,
    MovieHour,
    UserDay,
    UserHour,
    UserMovieDay,
    UserMovieHour,
    View,
)
from watchtime.db.bulk_sql import table
from watchtime.events.models import Movie
from watchtime.rule.attribution import DAY_US, HOURS_PER_DAY
from watchtime.rule.views import ViewDefinition


@dataclass(frozen=True)
class Aggregate:
    model: type
    keys: tuple[str, ...]
    values: tuple[str, ...]
    sql: str  # SELECT of the expected rows, its columns named as the table's (keys, then values)
    params: Callable[[ViewDefinition], list] = lambda definition: []


def _credited(column: str) -> str:
    return f"CASE WHEN {column} > 0 THEN 1 ELSE 0 END"


def aggregates() -> list[Aggregate]:
    """In dependency order: each reads only the facts and the tables before it."""
    umh, umd, uh, ud = table(UserMovieHour), table(UserMovieDay), table(UserHour), table(UserDay)
    mh, md, view, movie = table(MovieHour), table(MovieDay), table(View), table(Movie)
    return [
        Aggregate(UserMovieDay, ("user_id", "day", "movie_id"), ("credited_hours",),
                  f"SELECT user_id, hour / {HOURS_PER_DAY} AS day, movie_id, COUNT(*) AS credited_hours FROM {umh}"
                  f" WHERE watch_time > 0 GROUP BY user_id, hour / {HOURS_PER_DAY}, movie_id"),
        Aggregate(UserHour, ("user_id", "hour"), ("credited_movies",),
                  f"SELECT user_id, hour, COUNT(*) AS credited_movies FROM {umh} WHERE watch_time > 0 GROUP BY user_id, hour"),
        Aggregate(UserDay, ("user_id", "day"), ("credited_movies",),
                  f"SELECT user_id, day, COUNT(*) AS credited_movies FROM {umd} WHERE credited_hours > 0 GROUP BY user_id, day"),
        Aggregate(MovieHour, ("movie_id", "hour"), ("watch_time", "viewers"),
                  f"SELECT movie_id, hour, SUM(watch_time) AS watch_time, SUM({_credited('watch_time')}) AS viewers"
                  f" FROM {umh} GROUP BY movie_id, hour"),
        Aggregate(MovieDay, ("movie_id", "day"), ("watch_time", "views", "completions"),
                  f"SELECT movie_id, day, SUM(wt) AS watch_time, SUM(counted) AS views, SUM(complete) AS completions FROM ("
                  f"SELECT movie_id, hour / {HOURS_PER_DAY} AS day, watch_time AS wt, 0 AS counted, 0 AS complete FROM {mh}"
                  f" UNION ALL SELECT v.movie_id, v.started_us / {DAY_US}, 0, 1,"
                  f" CASE WHEN m.duration > 0 AND CAST(v.furthest_position AS BIGINT) * %s >= CAST(%s AS BIGINT) * m.duration"
                  f" THEN 1 ELSE 0 END"
                  f" FROM {view} v JOIN {movie} m ON m.id = v.movie_id WHERE v.watch_time >= %s"
                  f") x GROUP BY movie_id, day",
                  lambda definition: [definition.completion_fraction.denominator, definition.completion_fraction.numerator,
                                      definition.min_view_seconds]),
        Aggregate(MovieDayReach, ("movie_id", "day", "previous_day"), ("users",),
                  f"SELECT movie_id, day, previous_day, COUNT(*) AS users FROM (SELECT movie_id, day,"
                  f" COALESCE(LAG(day) OVER (PARTITION BY user_id, movie_id ORDER BY day), {NEVER}) AS previous_day"
                  f" FROM {umd} WHERE credited_hours > 0) x GROUP BY movie_id, day, previous_day"),
        Aggregate(Hour, ("hour",), ("watch_time", "viewers", "movies"),
                  f"SELECT hour, SUM(wt) AS watch_time, SUM(credited_users) AS viewers, SUM(credited) AS movies FROM ("
                  f"SELECT hour, watch_time AS wt, 0 AS credited_users, {_credited('watch_time')} AS credited FROM {mh}"
                  f" UNION ALL SELECT hour, 0, {_credited('credited_movies')}, 0 FROM {uh}) x GROUP BY hour"),
        Aggregate(Day, ("day",), ("watch_time", "viewers", "movies"),
                  f"SELECT day, SUM(wt) AS watch_time, SUM(credited_users) AS viewers, SUM(credited) AS movies FROM ("
                  f"SELECT day, watch_time AS wt, 0 AS credited_users, {_credited('watch_time')} AS credited FROM {md}"
                  f" UNION ALL SELECT day, 0, {_credited('credited_movies')}, 0 FROM {ud}) x GROUP BY day"),
    ]


def drift(aggregate: Aggregate, definition: ViewDefinition, limit: int = 100) -> list[str]:
    """Rows where the stored table and its definition differ (a missing row counts as zeros)."""
    keys, values = ", ".join(aggregate.keys), aggregate.values
    expected = ", ".join([*aggregate.keys, *(f"{v} AS e_{v}" for v in values), *(f"0 AS s_{v}" for v in values)])
    stored = ", ".join([*aggregate.keys, *(f"0 AS e_{v}" for v in values), *(f"{v} AS s_{v}" for v in values)])
    sums = ", ".join(f"SUM(e_{v}), SUM(s_{v})" for v in values)
    differs = " OR ".join(f"SUM(e_{v}) <> SUM(s_{v})" for v in values)
    sql = (
        f"SELECT {keys}, {sums} FROM (SELECT {expected} FROM ({aggregate.sql}) want"
        f" UNION ALL SELECT {stored} FROM {table(aggregate.model)}) x GROUP BY {keys} HAVING {differs}"
        f" ORDER BY {keys} LIMIT {limit}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, aggregate.params(definition))
        rows = cursor.fetchall()
    label = aggregate.model._meta.model_name
    out = []
    for row in rows:
        key = dict(zip(aggregate.keys, row[: len(aggregate.keys)], strict=True))
        sums_row = row[len(aggregate.keys) :]
        # int(): PostgreSQL's SUM of a bigint is numeric, which would print as Decimal('237').
        want = {v: int(sums_row[2 * i]) for i, v in enumerate(values)}
        have = {v: int(sums_row[2 * i + 1]) for i, v in enumerate(values)}
        out.append(f"{label} {key}: stored {have}, expected {want}")
    return out


def rebuild(aggregate: Aggregate, definition: ViewDefinition) -> None:
    """Replace the table's rows by its definition (the rows below it must be right already)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table(aggregate.model)}")
        cursor.execute(
            f"INSERT INTO {table(aggregate.model)} ({', '.join(aggregate.keys + aggregate.values)}) {aggregate.sql}",
            aggregate.params(definition),
        )
