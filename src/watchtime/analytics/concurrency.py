"""Concurrency reads: the minute series and the hour or day peaks, from the minute values (the
last WATCHTIME_CONCURRENCY_MINUTE_DAYS) and the folded quarter peaks (older)."""

from bisect import bisect_right

from watchtime.analytics.models import Minute, MovieMinute, MovieQuarterPeak, QuarterPeak
from watchtime.db import router
from watchtime.db.bulk_sql import table
from watchtime.rule.concurrency import MINUTE_US, QUARTER_MINUTES, Peak


def _rows(sql: str, params: list) -> list[tuple]:
    with router.read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _where(movie_id: int | None) -> tuple[str, list]:
    return ("movie_id = %s AND ", [movie_id]) if movie_id is not None else ("", [])


def minute_series(*, movie_id: int | None, first_minute: int, end_minute: int) -> list[tuple[int, int]]:
    """(start in microseconds, viewers) for every minute of [first_minute, end_minute), zeros where none played."""
    model = Minute if movie_id is None else MovieMinute
    where, params = _where(movie_id)
    found = dict(_rows(f"SELECT minute, viewers FROM {table(model)} WHERE {where}minute >= %s AND minute < %s",
                       [*params, first_minute, end_minute]))
    return [(m * MINUTE_US, found.get(m, 0)) for m in range(first_minute, end_minute)]


def peaks(*, movie_id: int | None, buckets: list[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """(peak, peak_at in microseconds or None) per [start_us, end_us) bucket (touching, whole UTC
    quarter hours): the largest minute value in it and the first minute reaching it, from the
    minute values and the folded quarter peaks."""
    if not buckets:
        return []
    lo, hi = buckets[0][0] // MINUTE_US, buckets[-1][1] // MINUTE_US
    starts = [start // MINUTE_US for start, _ in buckets]
    found = [Peak() for _ in buckets]
    where, params = _where(movie_id)
    minute_model, quarter_model = (Minute, QuarterPeak) if movie_id is None else (MovieMinute, MovieQuarterPeak)
    minutes = _rows(f"SELECT minute, viewers, minute FROM {table(minute_model)} WHERE {where}minute >= %s AND minute < %s"
                    f" AND viewers > 0", [*params, lo, hi])
    quarters = _rows(f"SELECT quarter * {QUARTER_MINUTES}, peak, peak_minute FROM {table(quarter_model)}"
                     f" WHERE {where}quarter >= %s AND quarter < %s AND peak > 0",
                     [*params, lo // QUARTER_MINUTES, -(-hi // QUARTER_MINUTES)])
    for start, viewers, at in [*minutes, *quarters]:
        i = bisect_right(starts, start) - 1
        if 0 <= i and lo <= start < hi:
            found[i] = found[i].combined(Peak(viewers, at))
    return [(p.peak, p.at * MINUTE_US if p.at is not None else None) for p in found]
