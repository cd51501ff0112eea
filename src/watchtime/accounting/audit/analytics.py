"""Every analytics figure against the event log: `verify` reports drift, `recompute` rebuilds.

Facts per user-movie (credit per quarter, views, coverage, the newest event's time) are compared
with what the rule gives from its kept events and what a prune folded (events.horizon);
every aggregate with its definition over the facts (expected.py); retention bins and movie
viewers with the stored coverage.
"""

from collections import defaultdict

from django.db import connection, transaction

from watchtime.accounting.audit import expected, facts
from watchtime.accounting.audit.concurrency import concurrency_drift, concurrency_recompute
from watchtime.analytics import view_store
from watchtime.analytics.models import RetentionBin, UserMovieQuarter, View
from watchtime.db import bulk_sql
from watchtime.definitions import Definitions
from watchtime.events.horizon import folded_quarters_before
from watchtime.events.models import Event, Movie, Stream, WatchTime
from watchtime.rule import coverage
from watchtime.rule.credit import Limits
from watchtime.rule.figures import PairFigures, pair_figures

LIMIT = 1000  # drift lines reported per kind


def derive(streams: dict, limits: Limits, definitions: Definitions, anchors: dict | None = None,
           folded_runs: list | None = None) -> PairFigures:
    return pair_figures(streams.items(), limits, definitions.view.gap_us, definitions.retention_resolution_seconds,
                        anchors=anchors, folded_runs=folded_runs)


def pair_inputs(*, stored: bool = True):
    """(pair, kept events by stream, anchors by stream, folded coverage, stored watch time row,
    and with `stored`: stored credit by quarter, views by stream, last view ids) of every user-movie,
    in (user, movie) order, one at a time."""
    sources = [facts.pair_events(), facts.stored_anchors(), facts.stored_watch_times()]
    if stored:
        sources += [facts.stored_credit(), facts.stored_views(), facts.stored_last_views()]
    for pair, (streams, anchors, watch_time, *rest) in facts.merged(*sources):
        folded = watch_time[4] if watch_time else []
        yield pair, streams or {}, anchors or {}, folded, watch_time, *(value or {} for value in rest)


def analytics_drift(*, limits: Limits, definitions: Definitions) -> list[str]:
    """Differences between stored analytics and the event log (read-only)."""
    drift: list[str] = []
    pending = 0
    not_rolled_up = set(Event.objects.filter(rolled_up=False).values_list("user_id", "movie_id").distinct())
    folded_before = folded_quarters_before()
    for pair, streams, anchors, folded, watch_time, credit, views, last_views in pair_inputs():
        if watch_time is not None and (not watch_time[3] or pair in not_rolled_up):
            pending += 1
            continue
        want = derive(streams, limits, definitions, anchors, folded)
        if folded_before is not None:
            credit = {q: v for q, v in credit.items() if q >= folded_before}
        drift += _pair_drift(pair, want, credit, views, watch_time, last_views, anchors)
        if len(drift) > LIMIT:
            break
    if pending:
        drift.append(f"{pending} user-movies wait for the analytics backfill (`watchtime backfill`)")
    for aggregate in expected.aggregates():
        drift += expected.drift(aggregate, definitions.view)
    drift += _coverage_drift(definitions)
    return drift + concurrency_drift(limits=limits)


def _kept_views(views: dict, anchors: dict) -> dict:
    """The stored views a recompute checks: a folded stream's views from the one holding its anchor on."""
    return {s: [v for v in vs if s not in anchors or v.started_us >= anchors[s].view_started_us] for s, vs in views.items()}


def _pair_drift(pair, want: PairFigures, credit, views, watch_time, last_views, anchors) -> list[str]:
    label = f"user-movie user={pair[0]} movie={pair[1]}"
    out = []
    if credit != want.credit_by_quarter:
        quarters = sorted({*credit, *want.credit_by_quarter})
        diff = {q: (credit.get(q, 0), want.credit_by_quarter.get(q, 0)) for q in quarters
                if credit.get(q, 0) != want.credit_by_quarter.get(q, 0)}
        out.append(f"{label}: credit by quarter (stored, expected) {diff}")
    if watch_time is None:
        return out + [f"{label}: no watch time row"]
    _, runs, last_watched_us, _, _ = watch_time
    if runs != want.runs:
        out.append(f"{label}: coverage stored {coverage.encode(runs)!r}, expected {coverage.encode(want.runs)!r}")
    if want.newest is not None and last_watched_us != want.newest.key_us:
        out.append(f"{label}: last_watched_us stored {last_watched_us}, expected {want.newest.key_us}")
    kept = _kept_views(views, anchors)
    for stream_id in sorted({*kept, *want.streams}):
        have = [(v.started_us, v.ended_us, v.watch_time, v.furthest_position) for v in kept.get(stream_id, [])]
        derived = want.streams.get(stream_id)
        expect = [(v.started_us, v.ended_us, v.watch_time, v.furthest_position) for v in (derived.views if derived else [])]
        if have != expect:
            out.append(f"stream {stream_id}: views stored {have}, expected {expect}")
        last_id = views[stream_id][-1].id if views.get(stream_id) else None
        if last_views.get(stream_id) != last_id:
            out.append(f"stream {stream_id}: last_view_id {last_views.get(stream_id)}, expected {last_id}")
    return out


def _coverage_expected() -> tuple[dict, dict]:
    """(movie, bin) -> viewers covering it, and movie -> viewers, from every stored coverage."""
    bins: dict[tuple[int, int], int] = defaultdict(int)
    viewers: dict[int, int] = defaultdict(int)
    for (_, movie_id), (_, runs, _, _, _) in facts.stored_watch_times():
        if runs:
            viewers[movie_id] += 1
        for k, sign in coverage.bin_deltas(coverage.spans(runs)):
            bins[(movie_id, k)] += sign
    return bins, viewers


def _coverage_drift(definitions: Definitions) -> list[str]:
    bins, viewers = _coverage_expected()
    stored = {(m, b): n for m, b, n in RetentionBin.objects.values_list("movie_id", "bin", "users") if n}
    out = [f"retention bin movie={m} bin={b}: stored {stored.get((m, b), 0)}, expected {bins.get((m, b), 0)}"
           for m, b in sorted({*bins, *stored}) if stored.get((m, b), 0) != bins.get((m, b), 0)][:LIMIT]
    for pk, count in Movie.objects.values_list("id", "viewers"):
        if count != viewers.get(pk, 0):
            out.append(f"movie {pk}: stored viewers {count}, expected {viewers.get(pk, 0)}")
    return out


@transaction.atomic
def analytics_recompute(*, limits: Limits, definitions: Definitions, chunk_pairs: int = 500) -> int:
    """Rebuild every analytics row from the event log and what a prune folded; returns the number
    of user-movies. Run with the consumers stopped, like `recompute` of the totals."""
    folded_before = folded_quarters_before()
    with connection.cursor() as cursor:
        for model in (RetentionBin, *(a.model for a in expected.aggregates())):
            cursor.execute(f"DELETE FROM {bulk_sql.table(model)}")
        if folded_before is None:
            cursor.execute(f"DELETE FROM {bulk_sql.table(UserMovieQuarter)}")
        else:
            cursor.execute(f"DELETE FROM {bulk_sql.table(UserMovieQuarter)} WHERE quarter >= %s", [folded_before])
    _delete_recomputed_views()
    Stream.objects.update(last_view_id=None)
    count = 0
    batch: list[tuple[tuple[int, int], int, PairFigures]] = []
    # The events, anchors and watch times are read as the derived rows are written: one user-movie at a time.
    for pair, streams, anchors, folded, watch_time in pair_inputs(stored=False):
        if watch_time is None:
            continue
        batch.append((pair, watch_time[0], derive(streams, limits, definitions, anchors, folded)))
        count += 1
        if len(batch) >= chunk_pairs:
            _write_pairs(batch)
            batch = []
    _write_pairs(batch)
    for aggregate in expected.aggregates():
        expected.rebuild(aggregate, definitions.view)
    bins, viewers = _coverage_expected()
    bulk_sql.insert_rows(RetentionBin, ("movie_id", "bin", "users"), [(m, b, n) for (m, b), n in sorted(bins.items())])
    Movie.objects.update(viewers=0)
    bulk_sql.update_from_values(Movie, ("viewers",), sorted(viewers.items()))
    Event.objects.filter(rolled_up=False).update(rolled_up=True)
    concurrency_recompute(limits=limits)
    return count


def _delete_recomputed_views() -> None:
    """Every view but those a prune left before a stream's anchor (they are not recomputed)."""
    view, stream = bulk_sql.table(View), bulk_sql.table(Stream)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {view} WHERE NOT EXISTS (SELECT 1 FROM {stream} s WHERE s.id = {view}.stream_id"
            f" AND s.anchor_view_started_us IS NOT NULL AND {view}.started_us < s.anchor_view_started_us)"
        )


def _write_pairs(batch: list[tuple[tuple[int, int], int, PairFigures]]) -> None:
    credit_rows, created = [], []
    wt_rows = []  # (id, coverage, last_watched_us, analytics_ready)
    for (user_id, movie_id), wt_id, figures in batch:
        credit_rows += [(user_id, quarter, movie_id, wt) for quarter, wt in sorted(figures.credit_by_quarter.items())]
        for stream_id, stream in figures.streams.items():
            created += [(stream_id, user_id, movie_id, view) for view in stream.views]
        last_watched = figures.newest.key_us if figures.newest else 0
        wt_rows.append((wt_id, coverage.encode(figures.runs), last_watched, True))
    bulk_sql.insert_rows(UserMovieQuarter, ("user_id", "quarter", "movie_id", "watch_time"), credit_rows)
    new_ids = view_store.save(created=created, updated=[], deleted=[])
    last = [(s, new_ids[(s, stream.views[-1].started_us)]) for (_, _, figures) in batch for s, stream in figures.streams.items()
            if stream.views]
    bulk_sql.update_from_values(Stream, ("last_view_id",), last)
    bulk_sql.update_from_values(WatchTime, ("coverage", "last_watched_us", "analytics_ready"), wt_rows)
