"""The concurrency history's writes: each stream's played minutes as runs (analytics StreamPlay),
and the minute values per movie and overall they add up to, in the caller's transaction.

A batch of in-order heartbeats adds the minutes its new pairs play to the stream's runs (the fast
path: a heartbeat inside a minute the stream already plays writes nothing). A late heartbeat
restates the stream's minutes from `reach` before it on, from its tail read that far back (the
slow path: every pair that can play in those minutes is in it). Minutes of folded quarters
(concurrency_peaks) restate their quarter's peak instead of a minute value.
"""

from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from django.db import connection

from watchtime.accounting import concurrency_peaks
from watchtime.analytics.models import FoldedPlay, Minute, MovieMinute, StreamPlay
from watchtime.db import bulk_sql
from watchtime.rule import concurrency
from watchtime.rule.attribution import PairChanges
from watchtime.rule.concurrency import MINUTE_US, Run
from watchtime.rule.credit import Heartbeat, Limits

LOWEST_AT = -(2**31)  # below every position: a key before any heartbeat of its microsecond


@dataclass(frozen=True)
class PlayChange:
    """One stream's minutes from `low` on: `runs` joins the stored ones (in order) or replaces them
    (restated); `from_anchor`: the runs start at a prune's anchor, and what the prune kept of the
    minutes before it (FoldedPlay) joins them."""

    stream_id: int
    movie_id: int
    low: int
    runs: list[Run]
    restated: bool
    from_anchor: bool = False


def tail_key(earliest_new_key: tuple, limits: Limits) -> tuple:
    """Where a late stream's tail must start for the slow path: every pair whose later heartbeat
    is after the start of the minute `reach` before the earliest new heartbeat."""
    low = concurrency.minute_of(earliest_new_key[0] - concurrency.reach_us(limits))
    return (low * MINUTE_US + 1, LOWEST_AT, UUID(int=0))


def trimmed(tail: list[Heartbeat], earliest_new_key: tuple) -> list[Heartbeat]:
    """The tail from the last heartbeat before the earliest new one (what the pair changes need)."""
    before = [i for i, hb in enumerate(tail) if hb.key < earliest_new_key]
    return tail[before[-1]:] if before else tail


def play_change(stream_id: int, movie_id: int, *, in_order: bool, wide_tail: list[Heartbeat], new: list[Heartbeat],
                changes: PairChanges, limits: Limits, anchor: Heartbeat | None) -> PlayChange | None:
    """What a batch changes in one stream's played minutes."""
    if in_order:
        runs = concurrency.merge(r for r in map(concurrency.played_minutes, changes.added) if r)
        return PlayChange(stream_id, movie_id, runs[0][0], runs, restated=False) if runs else None
    low = concurrency.minute_of(new[0].key_us - concurrency.reach_us(limits))
    merged = sorted([*wide_tail, *new], key=lambda hb: hb.key)
    from_anchor = anchor is not None and merged[0].event_id == anchor.event_id
    return PlayChange(stream_id, movie_id, low, concurrency.clip(concurrency.played(merged, limits), low), True, from_anchor)


def restate_streams(streams: dict[int, list[Heartbeat]], movie_id: int, anchors: dict[int, Heartbeat], limits: Limits) -> None:
    """Set these streams' played minutes to what their kept events (by key) and what a prune kept
    give, moving the minute values by the difference (rebuild: the caller holds their locks and,
    through rollups.write, the movie's)."""
    changes = []
    for stream_id in sorted({*streams, *anchors}):
        anchor, kept = anchors.get(stream_id), streams.get(stream_id, [])
        if anchor is None:
            changes.append(PlayChange(stream_id, movie_id, concurrency.EARLIEST, concurrency.played(kept, limits), True))
        else:
            low = concurrency.minute_of(anchor.key_us - concurrency.reach_us(limits))
            runs = concurrency.clip(concurrency.played([anchor, *(hb for hb in kept if hb.key > anchor.key)], limits), low)
            changes.append(PlayChange(stream_id, movie_id, low, runs, True, from_anchor=True))
    write(changes)


def write(changes: list[PlayChange]) -> None:
    """Write the streams' runs and the minute values they move. The caller holds the streams' locks
    and their movies' (rollups.write took them); the overall rows come last."""
    if not changes:
        return
    stored = _stored_runs([(c.stream_id, c.low) for c in changes])
    folded = folded_play([c.stream_id for c in changes if c.from_anchor])
    upserts, deletes = [], []
    moved: dict[tuple[int, int], int] = defaultdict(int)  # (movie, minute) -> viewers delta
    for c in changes:
        rows = stored.get(c.stream_id, [])  # runs ending at `low` or later, whole
        if not c.restated and all(any(a <= lo and hi <= b for a, b in rows) for lo, hi in c.runs):
            continue  # in order, inside minutes the stream already plays: the common case, nothing changes
        old = concurrency.clip(rows, c.low)
        if c.restated:
            new = concurrency.merge(c.runs + concurrency.clip(folded.get(c.stream_id, []), c.low))
        else:
            new = concurrency.merge(old + c.runs)
        gained, lost = concurrency.difference(old, new)
        for runs, sign in ((gained, 1), (lost, -1)):
            for minute in concurrency.minutes(runs):
                moved[(c.movie_id, minute)] += sign
        kept_below = concurrency.clip(rows, concurrency.EARLIEST, c.low)
        after = {lo: hi for lo, hi in concurrency.merge(kept_below + new)}
        before = dict(rows)
        deletes += [(c.stream_id, lo) for lo in before if lo not in after]
        upserts += [(c.stream_id, lo, hi, c.movie_id) for lo, hi in after.items() if before.get(lo) != hi]
    _delete_runs(deletes)
    _upsert_runs(upserts)
    _add_minutes({k: v for k, v in moved.items() if v})


def folded_play(stream_ids: list[int]) -> dict[int, list[Run]]:
    rows = FoldedPlay.objects.filter(stream_id__in=stream_ids).values_list("stream_id", "runs") if stream_ids else []
    return {stream_id: concurrency.decode(runs) for stream_id, runs in rows}


def fold_streams(anchors: dict[int, Heartbeat | None], pruned: dict[int, list[Heartbeat]], limits: Limits) -> None:
    """Keep what a prune folding `pruned` onto `anchors` must keep of the streams' played minutes
    (rule.concurrency.folded_runs); the caller holds the streams' locks (retention)."""
    ids = sorted(s for s, heartbeats in pruned.items() if heartbeats)
    old = folded_play(ids)
    rows = [(s, concurrency.encode(concurrency.folded_runs(anchors.get(s), old.get(s, []), pruned[s], limits))) for s in ids]
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(rows):
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(FoldedPlay)} (stream_id, runs) VALUES {', '.join(['(%s, %s)'] * len(chunk))}"
                f" ON CONFLICT (stream_id) DO UPDATE SET runs = excluded.runs",
                [v for row in chunk for v in row],
            )


def remove_streams(stream_ids: list[int]) -> None:
    """Take these streams out of every minute value and peak, and delete their runs (a user or a
    movie deleted; the caller holds the streams' locks and, through rollups.write, their movies')."""
    moved: dict[tuple[int, int], int] = defaultdict(int)
    rows = StreamPlay.objects.filter(stream_id__in=stream_ids).values_list("movie_id", "first_minute", "end_minute")
    for movie_id, lo, hi in rows:
        for minute in range(lo, hi):
            moved[(movie_id, minute)] -= 1
    StreamPlay.objects.filter(stream_id__in=stream_ids).delete()
    FoldedPlay.objects.filter(stream_id__in=stream_ids).delete()
    _add_minutes(moved)


def _add_minutes(moved: dict[tuple[int, int], int]) -> None:
    """Minute values of unfolded quarters take the deltas; folded quarters restate their peaks."""
    if not moved:
        return
    before_quarter = concurrency_peaks.folded_before()
    live = {k: (d,) for k, d in moved.items() if concurrency.quarter_of(k[1]) >= before_quarter}
    folded = {(m, concurrency.quarter_of(minute)) for m, minute in moved if concurrency.quarter_of(minute) < before_quarter}
    bulk_sql.upsert_add(MovieMinute, ("movie_id", "minute"), ("viewers",), live)
    overall: dict[tuple[int], int] = defaultdict(int)
    for (_, minute), (d,) in live.items():
        overall[(minute,)] += d
    bulk_sql.upsert_add(Minute, ("minute",), ("viewers",), {k: (d,) for k, d in overall.items() if d})
    if folded:
        concurrency_peaks.restate(folded)


def _stored_runs(lows: list[tuple[int, int]]) -> dict[int, list[Run]]:
    """Each stream's stored runs ending at its `low` or later (so a run `low` extends is among them)."""
    out: dict[int, list[Run]] = defaultdict(list)
    table = bulk_sql.table(StreamPlay)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(lows)):
            cursor.execute(
                f"SELECT p.stream_id, p.first_minute, p.end_minute FROM (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) AS r"
                f" JOIN {table} p ON p.stream_id = r.column1 AND p.end_minute >= r.column2",
                [v for row in chunk for v in row],
            )
            for stream_id, lo, hi in cursor.fetchall():
                out[stream_id].append((lo, hi))
    for runs in out.values():
        runs.sort()
    return out


def _delete_runs(keys: list[tuple[int, int]]) -> None:
    table = bulk_sql.table(StreamPlay)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(keys)):
            cursor.execute(
                f"DELETE FROM {table} WHERE (stream_id, first_minute) IN (VALUES {', '.join(['(%s, %s)'] * len(chunk))})",
                [v for key in chunk for v in key],
            )


def _upsert_runs(rows: list[tuple[int, int, int, int]]) -> None:
    table = bulk_sql.table(StreamPlay)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(rows)):
            cursor.execute(
                f"INSERT INTO {table} (stream_id, first_minute, end_minute, movie_id)"
                f" VALUES {', '.join(['(%s, %s, %s, %s)'] * len(chunk))}"
                f" ON CONFLICT (stream_id, first_minute) DO UPDATE SET end_minute = excluded.end_minute",
                [v for row in chunk for v in row],
            )
