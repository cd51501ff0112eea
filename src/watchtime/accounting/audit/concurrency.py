"""The concurrency history against the event log: each stream's played minutes with what the rule
gives from its kept events (from its anchor on, where a prune folded the rest), the minute values
and the folded quarter peaks with what the runs add up to."""

from collections import defaultdict
from collections.abc import Iterator
from itertools import groupby

from django.db import connection

from watchtime.accounting.concurrency_peaks import OVERALL, folded_before
from watchtime.analytics.models import FoldedPlay, Minute, MovieMinute, MovieQuarterPeak, QuarterPeak, StreamPlay
from watchtime.db import bulk_sql
from watchtime.events.horizon import anchor_of
from watchtime.events.models import Event, Stream, WatchTime
from watchtime.rule import concurrency
from watchtime.rule.concurrency import Peak, Run
from watchtime.rule.credit import Heartbeat, Limits

CHUNK = 5000
LIMIT = 1000


def derived_runs(limits: Limits) -> Iterator[tuple[int, int, list[Run], int | None]]:
    """(stream, movie, played minutes from its kept events and what a prune kept, the first minute
    they decide or None: all) for every stream with kept events or an anchor, by stream."""
    anchors = {s.id: (s.movie_id, anchor_of(s).heartbeat) for s in Stream.objects.filter(anchor_key_us__isnull=False)}
    folded = {s: concurrency.decode(runs) for s, runs in FoldedPlay.objects.values_list("stream_id", "runs")}
    rows = Event.objects.order_by("stream_id", "sort_us", "at", "event_id").values_list(
        "stream_id", "movie_id", "event_id", "at", "ts_us", "sort_us").iterator(chunk_size=CHUNK)
    seen = set()
    for stream_id, items in groupby(rows, key=lambda r: r[0]):
        items = list(items)
        seen.add(stream_id)
        heartbeats = [Heartbeat(event_id=e, at=at, ts_us=ts, key_us=key) for _, _, e, at, ts, key in items]
        anchor = anchors.get(stream_id, (None, None))[1]
        yield _derived(stream_id, items[0][1], heartbeats, anchor, folded.get(stream_id, []), limits)
    for stream_id, (movie_id, anchor) in sorted(anchors.items()):
        if stream_id not in seen:
            yield _derived(stream_id, movie_id, [], anchor, folded.get(stream_id, []), limits)


def _derived(stream_id: int, movie_id: int, kept: list[Heartbeat], anchor: Heartbeat | None, folded: list[Run],
             limits: Limits):
    if anchor is None:
        return stream_id, movie_id, concurrency.played(kept, limits), None
    # Pairs folded before the anchor play from `reach` before it on only as the prune kept them.
    runs = concurrency.merge([*concurrency.played([anchor, *(hb for hb in kept if hb.key > anchor.key)], limits), *folded])
    return stream_id, movie_id, runs, concurrency.minute_of(anchor.key_us - concurrency.reach_us(limits))


def stored_runs() -> dict[int, list[Run]]:
    out: dict[int, list[Run]] = defaultdict(list)
    for stream_id, lo, hi in StreamPlay.objects.order_by("stream_id", "first_minute").values_list(
            "stream_id", "first_minute", "end_minute").iterator(chunk_size=CHUNK):
        out[stream_id].append((lo, hi))
    return out


def concurrency_drift(*, limits: Limits) -> list[str]:
    """Differences between the stored concurrency history and the event log (read-only)."""
    drift = []
    stored = stored_runs()
    waiting = _waiting_streams()
    for stream_id, _, runs, decided_from in derived_runs(limits):
        have = stored.pop(stream_id, [])
        if stream_id in waiting:  # the backfill restates it (analytics_drift counts these user-movies)
            continue
        low = decided_from if decided_from is not None else concurrency.EARLIEST
        if concurrency.clip(have, low) != concurrency.clip(runs, low):
            drift.append(f"stream {stream_id}: played minutes stored {have}, expected {runs} (from minute {decided_from})")
    drift += [f"stream {s}: played minutes stored {runs} without events" for s, runs in sorted(stored.items()) if runs]
    return drift[:LIMIT] + _values_drift()


def _waiting_streams() -> set[int]:
    """Streams of the user-movies the analytics backfill has yet to rebuild."""
    pending = set(WatchTime.objects.filter(analytics_ready=False).values_list("user_id", "movie_id"))
    pending |= set(Event.objects.filter(rolled_up=False).values_list("user_id", "movie_id").distinct())
    if not pending:
        return set()
    return {s for s, u, m in Stream.objects.values_list("id", "user_id", "movie_id") if (u, m) in pending}


def expected_values() -> tuple[dict[tuple, int], dict[tuple, Peak]]:
    """From the stored runs: (movie or OVERALL, minute) -> viewers of unfolded quarters, and
    (movie or OVERALL, quarter) -> peak of folded ones (non-zero only)."""
    before = folded_before() * concurrency.QUARTER_MINUTES
    counts: dict[tuple, int] = defaultdict(int)
    for movie_id, lo, hi in StreamPlay.objects.values_list("movie_id", "first_minute", "end_minute").iterator(chunk_size=CHUNK):
        for minute in range(lo, hi):
            counts[(movie_id, minute)] += 1
            counts[(OVERALL, minute)] += 1
    minutes = {k: n for k, n in counts.items() if k[1] >= before}
    peaks: dict[tuple, Peak] = defaultdict(Peak)
    for (movie, minute), n in counts.items():
        if minute < before:
            key = (movie, concurrency.quarter_of(minute))
            peaks[key] = peaks[key].with_minute(minute, n)
    return minutes, dict(peaks)


def _stored_values() -> tuple[dict[tuple, int], dict[tuple, Peak]]:
    minutes = {(m, minute): n for m, minute, n in MovieMinute.objects.values_list("movie_id", "minute", "viewers") if n}
    minutes.update({(OVERALL, minute): n for minute, n in Minute.objects.values_list("minute", "viewers") if n})
    peaks = {(m, q): Peak(p, at) for m, q, p, at in MovieQuarterPeak.objects.values_list("movie_id", "quarter", "peak", "peak_minute") if p}
    peaks.update({(OVERALL, q): Peak(p, at) for q, p, at in QuarterPeak.objects.values_list("quarter", "peak", "peak_minute") if p})
    return minutes, peaks


def _values_drift() -> list[str]:
    (want_minutes, want_peaks), (have_minutes, have_peaks) = expected_values(), _stored_values()
    out = []
    for (movie, minute) in sorted({*want_minutes, *have_minutes}, key=_order):
        if want_minutes.get((movie, minute), 0) != have_minutes.get((movie, minute), 0):
            out.append(f"concurrency minute {minute} movie={movie}: stored {have_minutes.get((movie, minute), 0)},"
                       f" expected {want_minutes.get((movie, minute), 0)}")
    for (movie, quarter) in sorted({*want_peaks, *have_peaks}, key=_order):
        if want_peaks.get((movie, quarter), Peak()) != have_peaks.get((movie, quarter), Peak()):
            out.append(f"concurrency quarter {quarter} movie={movie}: stored {have_peaks.get((movie, quarter))},"
                       f" expected {want_peaks.get((movie, quarter))}")
    return out[:LIMIT]


def concurrency_recompute(*, limits: Limits) -> None:
    """Rebuild every stream's played minutes (keeping what a prune folded before each anchor), then
    the minute values and the folded quarters' peaks. Run with the consumers stopped."""
    stored = stored_runs()
    rows = []
    for stream_id, movie_id, runs, decided_from in derived_runs(limits):
        if decided_from is not None:
            runs = concurrency.merge(concurrency.clip(stored.get(stream_id, []), concurrency.EARLIEST, decided_from) + runs)
        rows += [(stream_id, lo, hi, movie_id) for lo, hi in runs]
    with connection.cursor() as cursor:
        for model in (StreamPlay, MovieMinute, Minute, MovieQuarterPeak, QuarterPeak):
            cursor.execute(f"DELETE FROM {bulk_sql.table(model)}")
    bulk_sql.insert_rows(StreamPlay, ("stream_id", "first_minute", "end_minute", "movie_id"), rows)
    minutes, peaks = expected_values()
    bulk_sql.insert_rows(MovieMinute, ("movie_id", "minute", "viewers"),
                         sorted((m, minute, n) for (m, minute), n in minutes.items() if m is not OVERALL))
    bulk_sql.insert_rows(Minute, ("minute", "viewers"), sorted((minute, n) for (m, minute), n in minutes.items() if m is OVERALL))
    bulk_sql.insert_rows(MovieQuarterPeak, ("movie_id", "quarter", "peak", "peak_minute"),
                         sorted((m, q, p.peak, p.at) for (m, q), p in peaks.items() if m is not OVERALL))
    bulk_sql.insert_rows(QuarterPeak, ("quarter", "peak", "peak_minute"),
                         sorted((q, p.peak, p.at) for (m, q), p in peaks.items() if m is OVERALL))


def _order(key: tuple) -> tuple:
    return (key[0] is not OVERALL, key[0] or 0, key[1])
