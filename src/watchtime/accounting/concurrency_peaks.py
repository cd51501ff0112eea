"""Folding old minute values into quarter-hour peaks (maintain), and restating a folded quarter's
peaks from the streams' runs when late events or an erasure change minutes in it.

Every UTC offset since 1980 is a whole number of quarter hours, so a local hour's or day's peak is
the peak of its quarters. The fold takes an advisory lock exclusive; a minute write takes it
shared and reads the marker before writing minute rows, so a minute value is never written after
its quarter was folded.
"""

from collections import defaultdict

from django.db import connection, transaction

from watchtime.analytics.models import ConcurrencyFold, Minute, MovieMinute, MovieQuarterPeak, QuarterPeak, StreamPlay
from watchtime.db import bulk_sql
from watchtime.rule.concurrency import QUARTER_MINUTES, Peak, peak_of
from watchtime.timestamps import to_us

OVERALL = None  # the movie of the overall rows


FOLD_LOCK = 0x7761_7463_6824  # the advisory lock the fold takes exclusive and every minute write shared


def folded_before(*, for_update: bool = False) -> int:
    """Quarters before this one are folded. A minute write takes the fold's advisory lock shared
    (no row lock: nothing written), the fold exclusive; SQLite locks the whole database instead."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT pg_advisory_xact_lock{'' if for_update else '_shared'}(%s)", [FOLD_LOCK])
        cursor.execute(f"SELECT before_quarter FROM {bulk_sql.table(ConcurrencyFold)} WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else 0


def fold(*, now, minute_days: int) -> int:
    """Fold the quarters wholly older than `minute_days` before now into peaks; how many quarters."""
    cut = (to_us(now) // 60_000_000 - minute_days * 24 * 60) // QUARTER_MINUTES
    with transaction.atomic():
        start = folded_before(for_update=True)
        if cut <= start:
            return 0
        lo, hi = start * QUARTER_MINUTES, cut * QUARTER_MINUTES
        movie_rows = MovieMinute.objects.filter(minute__gte=lo, minute__lt=hi).values_list("movie_id", "minute", "viewers")
        overall_rows = Minute.objects.filter(minute__gte=lo, minute__lt=hi).values_list("minute", "viewers")
        peaks: dict[tuple, Peak] = defaultdict(Peak)
        for movie_id, minute, viewers in movie_rows:
            key = (movie_id, minute // QUARTER_MINUTES)
            peaks[key] = peaks[key].with_minute(minute, viewers)
        for minute, viewers in overall_rows:
            key = (OVERALL, minute // QUARTER_MINUTES)
            peaks[key] = peaks[key].with_minute(minute, viewers)
        _save({k: p for k, p in peaks.items() if p.peak > 0})
        MovieMinute.objects.filter(minute__gte=lo, minute__lt=hi).delete()
        Minute.objects.filter(minute__gte=lo, minute__lt=hi).delete()
        ConcurrencyFold.objects.filter(id=1).update(before_quarter=cut)
        return cut - start


def restate(folded: set[tuple[int, int]]) -> None:
    """Recount the peaks of these folded (movie, quarter)s, and of the overall quarters, from the
    runs (the caller wrote its streams' runs; it holds the movies' locks, and the overall quarter
    rows are locked before they are counted, so a concurrent batch's runs are seen once it commits)."""
    quarters = sorted({q for _, q in folded})
    bulk_sql.upsert_add(QuarterPeak, ("quarter",), ("peak",), {(q,): (0,) for q in quarters})  # locks them
    bulk_sql.upsert_add(MovieQuarterPeak, ("movie_id", "quarter"), ("peak",), {k: (0,) for k in folded})
    peaks = {}
    for quarter in quarters:
        counts = _counts(quarter)
        peaks[(OVERALL, quarter)] = peak_of(_overall(counts).items())
        for movie_id, q in folded:
            if q == quarter:
                peaks[(movie_id, quarter)] = peak_of(counts.get(movie_id, {}).items())
    _save(peaks)


def _counts(quarter: int) -> dict[int, dict[int, int]]:
    """movie -> minute -> streams playing in it, over one quarter, from the runs."""
    lo, hi = quarter * QUARTER_MINUTES, (quarter + 1) * QUARTER_MINUTES
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    rows = StreamPlay.objects.filter(end_minute__gt=lo, first_minute__lt=hi).values_list("movie_id", "first_minute", "end_minute")
    for movie_id, first, end in rows:
        for minute in range(max(first, lo), min(end, hi)):
            counts[movie_id][minute] += 1
    return counts


def _overall(counts: dict[int, dict[int, int]]) -> dict[int, int]:
    total: dict[int, int] = defaultdict(int)
    for by_minute in counts.values():
        for minute, n in by_minute.items():
            total[minute] += n
    return total


def _save(peaks: dict[tuple, Peak]) -> None:
    """Write (movie or OVERALL, quarter) peaks; a peak of 0 keeps a row of 0."""
    movie_rows = [(m, q, p.peak, p.at) for (m, q), p in sorted(peaks.items(), key=_order) if m is not OVERALL]
    overall_rows = [(q, p.peak, p.at) for (m, q), p in sorted(peaks.items(), key=_order) if m is OVERALL]
    with connection.cursor() as cursor:
        for model, keys, rows in ((MovieQuarterPeak, "movie_id, quarter", movie_rows), (QuarterPeak, "quarter", overall_rows)):
            width = len(keys.split(", ")) + 2
            for chunk in bulk_sql.chunks(rows):
                cursor.execute(
                    f"INSERT INTO {bulk_sql.table(model)} ({keys}, peak, peak_minute)"
                    f" VALUES {', '.join(['(' + bulk_sql.placeholders(width) + ')'] * len(chunk))}"
                    f" ON CONFLICT ({keys}) DO UPDATE SET peak = excluded.peak, peak_minute = excluded.peak_minute",
                    [v for row in chunk for v in row],
                )


def _order(item) -> tuple:
    (movie, quarter), _ = item
    return (movie is not OVERALL, movie or 0, quarter)
