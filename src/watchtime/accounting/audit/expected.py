"""Each aggregate table as a query over the rows below it: the one definition that `verify`
compares with what is stored and `recompute` writes. Facts per viewer (UserMovieQuarter, views,
coverage) are checked against the event log elsewhere (audit.analytics); here every level is checked
against the level under it, so together they tie every figure to the log.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from watchtime.analytics.models import (
    NEVER,
    MovieQuarter,
    MovieQuarterReach,
    MovieUtcDay,
    Quarter,
    QuarterReach,
    UserMovieQuarter,
    UserQuarter,
    View,
)
from watchtime.db.bulk_sql import table
from watchtime.events.models import Movie
from watchtime.rule.views import ViewDefinition
from watchtime.rule.zones import QUARTER_US, QUARTERS_PER_DAY


@dataclass(frozen=True)
class Aggregate:
    model: type
    keys: tuple[str, ...]
    values: tuple[str, ...]
    sql: str  # SELECT of the expected rows, its columns named as the table's (keys, then values)
    params: Callable[[ViewDefinition], list] = lambda definition: []


def _reach(owner: str, source: str, credited: str) -> str:
    """Each credited quarter of an owner with the one the owner was last credited in before it."""
    return (f"SELECT quarter, COALESCE(LAG(quarter) OVER (PARTITION BY {owner} ORDER BY quarter), {NEVER})"
            f" AS previous_quarter FROM {source} WHERE {credited} > 0")


def aggregates() -> list[Aggregate]:
    """In dependency order: each reads only the facts and the tables before it."""
    umq, uq, mq, view, movie = table(UserMovieQuarter), table(UserQuarter), table(MovieQuarter), table(View), table(Movie)
    return [
        Aggregate(UserQuarter, ("user_id", "quarter"), ("credited_movies",),
                  f"SELECT user_id, quarter, COUNT(*) AS credited_movies FROM {umq} WHERE watch_time > 0 GROUP BY user_id, quarter"),
        Aggregate(MovieQuarter, ("movie_id", "quarter"), ("watch_time", "views", "completions"),
                  f"SELECT movie_id, quarter, SUM(wt) AS watch_time, SUM(counted) AS views, SUM(complete) AS completions FROM ("
                  f"SELECT movie_id, quarter, watch_time AS wt, 0 AS counted, 0 AS complete FROM {umq}"
                  f" UNION ALL SELECT v.movie_id, v.started_us / {QUARTER_US}, 0, 1,"
                  f" CASE WHEN m.duration > 0 AND CAST(v.furthest_position AS BIGINT) * %s >= CAST(%s AS BIGINT) * m.duration"
                  f" THEN 1 ELSE 0 END"
                  f" FROM {view} v JOIN {movie} m ON m.id = v.movie_id WHERE v.watch_time >= %s"
                  f") x GROUP BY movie_id, quarter",
                  lambda definition: [definition.completion_fraction.denominator, definition.completion_fraction.numerator,
                                      definition.min_view_seconds]),
        Aggregate(MovieUtcDay, ("movie_id", "day"), ("watch_time", "views", "completions"),
                  f"SELECT movie_id, quarter / {QUARTERS_PER_DAY} AS day, SUM(watch_time) AS watch_time, SUM(views) AS views,"
                  f" SUM(completions) AS completions FROM {mq} GROUP BY movie_id, quarter / {QUARTERS_PER_DAY}"),
        Aggregate(MovieQuarterReach, ("movie_id", "quarter", "previous_quarter"), ("users",),
                  f"SELECT movie_id, quarter, previous_quarter, COUNT(*) AS users FROM (SELECT movie_id, quarter,"
                  f" COALESCE(LAG(quarter) OVER (PARTITION BY user_id, movie_id ORDER BY quarter), {NEVER}) AS previous_quarter"
                  f" FROM {umq} WHERE watch_time > 0) x GROUP BY movie_id, quarter, previous_quarter"),
        Aggregate(Quarter, ("quarter",), ("watch_time",),
                  f"SELECT quarter, SUM(watch_time) AS watch_time FROM {mq} GROUP BY quarter"),
        Aggregate(QuarterReach, ("quarter", "previous_quarter"), ("viewers", "movies"),
                  f"SELECT quarter, previous_quarter, SUM(v) AS viewers, SUM(m) AS movies FROM ("
                  f"SELECT quarter, previous_quarter, 1 AS v, 0 AS m FROM ({_reach('user_id', uq, 'credited_movies')}) u"
                  f" UNION ALL SELECT quarter, previous_quarter, 0, 1 FROM ({_reach('movie_id', mq, 'watch_time')}) w"
                  f") x GROUP BY quarter, previous_quarter"),
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
