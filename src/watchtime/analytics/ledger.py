"""Every analytics figure against the event log: `verify` reports drift, `recompute` rebuilds.

Facts per user-movie (credit per hour, views, coverage, the newest event's time) are compared
with what the rule gives from its events; every aggregate with its definition over the facts
(expected.py); retention bins and movie viewers with the stored coverage.
"""

from collections import defaultdict

from django.db import connection, transaction

from watchtime.analytics import expected, facts, view_store
from watchtime.analytics.models import RetentionBin, UserMovieHour, View
from watchtime.events import bulk_sql
from watchtime.events.definitions import Definitions
from watchtime.events.models import Event, Movie, Stream, WatchTime
from watchtime.rule import coverage
from watchtime.rule.credit import Limits
from watchtime.rule.figures import PairFigures, pair_figures

LIMIT = 1000  # drift lines reported per kind


def derive(streams: dict, limits: Limits, definitions: Definitions) -> PairFigures:
    return pair_figures(streams.items(), limits, definitions.view.gap_us, definitions.retention_resolution_seconds)


def analytics_drift(*, limits: Limits, definitions: Definitions) -> list[str]:
    """Differences between stored analytics and the event log (read-only)."""
    drift: list[str] = []
    pending = 0
    not_rolled_up = set(Event.objects.filter(rolled_up=False).values_list("user_id", "movie_id").distinct())
    for pair, (streams, credit, views, watch_time, last_views) in facts.merged(
        facts.pair_events(), facts.stored_credit(), facts.stored_views(), facts.stored_watch_times(), facts.stored_last_views()
    ):
        if watch_time is not None and (not watch_time[3] or pair in not_rolled_up):
            pending += 1
            continue
        drift += _pair_drift(pair, derive(streams or {}, limits, definitions), credit or {}, views or {}, watch_time,
                             last_views or {})
        if len(drift) > LIMIT:
            break
    if pending:
        drift.append(f"{pending} user-movies wait for the analytics backfill (`watchtime backfill`)")
    for aggregate in expected.aggregates():
        drift += expected.drift(aggregate, definitions.view)
    drift += _coverage_drift(definitions)
    return drift


def _pair_drift(pair, want: PairFigures, credit, views, watch_time, last_views) -> list[str]:
    label = f"user-movie user={pair[0]} movie={pair[1]}"
    out = []
    if credit != want.credit_by_hour:
        hours = sorted({*credit, *want.credit_by_hour})
        diff = {h: (credit.get(h, 0), want.credit_by_hour.get(h, 0)) for h in hours if credit.get(h, 0) != want.credit_by_hour.get(h, 0)}
        out.append(f"{label}: credit by hour (stored, expected) {diff}")
    if watch_time is None:
        return out + [f"{label}: no watch time row"]
    _, runs, last_watched_us, _ = watch_time
    if runs != want.runs:
        out.append(f"{label}: coverage stored {coverage.encode(runs)!r}, expected {coverage.encode(want.runs)!r}")
    if want.newest is not None and last_watched_us != want.newest.key_us:
        out.append(f"{label}: last_watched_us stored {last_watched_us}, expected {want.newest.key_us}")
    for stream_id in sorted({*views, *want.streams}):
        have = [(v.started_us, v.ended_us, v.watch_time, v.furthest_position) for v in views.get(stream_id, [])]
        derived = want.streams.get(stream_id)
        expect = [(v.started_us, v.ended_us, v.watch_time, v.furthest_position) for v in (derived.views if derived else [])]
        if have != expect:
            out.append(f"stream {stream_id}: views stored {have}, expected {expect}")
        last_id = views[stream_id][-1].id if views.get(stream_id) else None
        if last_views.get(stream_id) != last_id:
            out.append(f"stream {stream_id}: last_view_id {last_views.get(stream_id)}, expected {last_id}")
    return out


def _coverage_expected(resolution: int) -> tuple[dict, dict]:
    """(movie, bin) -> viewers covering it, and movie -> viewers, from every stored coverage."""
    bins: dict[tuple[int, int], int] = defaultdict(int)
    viewers: dict[int, int] = defaultdict(int)
    for (_, movie_id), (_, runs, _, _) in facts.stored_watch_times():
        if runs:
            viewers[movie_id] += 1
        for lo, hi, _ in runs:
            for k in range(lo, hi):
                bins[(movie_id, k)] += 1
    return bins, viewers


def _coverage_drift(definitions: Definitions) -> list[str]:
    bins, viewers = _coverage_expected(definitions.retention_resolution_seconds)
    stored = {(m, b): n for m, b, n in RetentionBin.objects.values_list("movie_id", "bin", "users") if n}
    out = [f"retention bin movie={m} bin={b}: stored {stored.get((m, b), 0)}, expected {bins.get((m, b), 0)}"
           for m, b in sorted({*bins, *stored}) if stored.get((m, b), 0) != bins.get((m, b), 0)][:LIMIT]
    for pk, count in Movie.objects.values_list("id", "viewers"):
        if count != viewers.get(pk, 0):
            out.append(f"movie {pk}: stored viewers {count}, expected {viewers.get(pk, 0)}")
    return out


@transaction.atomic
def analytics_recompute(*, limits: Limits, definitions: Definitions, chunk_pairs: int = 500) -> int:
    """Rebuild every analytics row from the event log; returns the number of user-movies.

    Run with the consumers stopped, like `recompute` of the totals."""
    with connection.cursor() as cursor:
        for model in (UserMovieHour, View, RetentionBin, *(a.model for a in expected.aggregates())):
            cursor.execute(f"DELETE FROM {bulk_sql.table(model)}")
    Stream.objects.update(last_view_id=None)
    wt_ids = {(u, m): pk for pk, u, m in WatchTime.objects.values_list("id", "user_id", "movie_id")}
    count = 0
    batch: list[tuple[tuple[int, int], PairFigures]] = []
    for pair, streams in facts.pair_events():
        batch.append((pair, derive(streams, limits, definitions)))
        count += 1
        if len(batch) >= chunk_pairs:
            _write_pairs(batch, wt_ids)
            batch = []
    _write_pairs(batch, wt_ids)
    for aggregate in expected.aggregates():
        expected.rebuild(aggregate, definitions.view)
    bins, viewers = _coverage_expected(definitions.retention_resolution_seconds)
    bulk_sql.insert_rows(RetentionBin, ("movie_id", "bin", "users"), [(m, b, n) for (m, b), n in sorted(bins.items())])
    Movie.objects.update(viewers=0)
    bulk_sql.update_from_values(Movie, ("viewers",), sorted(viewers.items()))
    Event.objects.filter(rolled_up=False).update(rolled_up=True)
    return count


def _write_pairs(batch: list[tuple[tuple[int, int], PairFigures]], wt_ids: dict) -> None:
    credit_rows, created = [], []
    wt_rows = []  # (id, coverage, last_watched_us, analytics_ready)
    for (user_id, movie_id), figures in batch:
        credit_rows += [(user_id, hour, movie_id, wt) for hour, wt in sorted(figures.credit_by_hour.items())]
        for stream_id, stream in figures.streams.items():
            created += [(stream_id, user_id, movie_id, view) for view in stream.views]
        wt_rows.append((wt_ids[(user_id, movie_id)], coverage.encode(figures.runs), figures.newest.key_us, True))
    bulk_sql.insert_rows(UserMovieHour, ("user_id", "hour", "movie_id", "watch_time"), credit_rows)
    new_ids = view_store.save(created=created, updated=[], deleted=[])
    last = [(s, new_ids[(s, stream.views[-1].started_us)]) for (_, figures) in batch for s, stream in figures.streams.items()]
    bulk_sql.update_from_values(Stream, ("last_view_id",), last)
    bulk_sql.update_from_values(WatchTime, ("coverage", "last_watched_us", "analytics_ready"), wt_rows)
