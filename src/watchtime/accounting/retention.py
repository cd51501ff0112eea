"""Pruning the event log while every figure stays: the horizon moves, each stream's pruned
heartbeats are folded into its anchor, then the old events go.

A prune first moves the horizon (events.horizon; batches from then on drop older events, and they
read it after their stream locks, so a batch holding a stream's lock finishes before that stream
is folded), then folds each stream's pruned heartbeats into its anchor under the apply path's
locks (locks.fold_streams, rule.folding), then drops whole partitions (PostgreSQL) or deletes in
batches (SQLite, and the part of the pre-partitioning table that is older).
The dedupe window is the retention window: a retried event older than the horizon, or whose
copy was pruned, is not recognised.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction

from watchtime.accounting import concurrency, locks
from watchtime.accounting.rebuild import pending_pairs
from watchtime.db import bulk_sql
from watchtime.events import partitions
from watchtime.events.horizon import ANCHOR_FIELDS, anchor_of
from watchtime.events.models import Event, EventId, Horizon, Stream, WatchTime
from watchtime.rule import coverage
from watchtime.rule.credit import Heartbeat, Limits
from watchtime.rule.folding import Anchor, fold

logger = logging.getLogger(__name__)

STREAMS_PER_FOLD = 500
DELETE_CHUNK = 10_000


@dataclass
class PruneResult:
    horizon: date
    streams_folded: int = 0
    events_deleted: int = 0
    partitions_dropped: int = 0


def prune(*, before: date, limits: Limits, definitions) -> PruneResult:
    """Remove events with a key before midnight of `before`, keeping every figure (idempotent,
    resumable: a stream is folded only up to its anchor, partitions are dropped once folded)."""
    if pending_pairs(1):
        raise RuntimeError("the analytics backfill has not finished: prune would lose what it has still to read")
    cut = partitions.day_start_us(before)
    result = PruneResult(horizon=before)
    with transaction.atomic():
        row, _ = Horizon.objects.select_for_update().get_or_create(pk=1)
        if row.pruned_before_us is None or row.pruned_before_us < cut:
            row.pruned_before_us = cut
            row.save(update_fields=["pruned_before_us"])
    while True:
        folded = _fold_some(cut, limits, definitions)
        result.streams_folded += folded
        if not folded:
            break
    result.events_deleted, result.partitions_dropped = _delete_before(cut)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {bulk_sql.table(Event)}")
    logger.info("pruned", extra={"before": before.isoformat(), **{k: v for k, v in vars(result).items() if k != "horizon"}})
    return result


def _fold_some(cut: int, limits: Limits, definitions) -> int:
    """Fold the pruned heartbeats of up to STREAMS_PER_FOLD streams not folded yet; how many."""
    log, streams = bulk_sql.table(Event), bulk_sql.table(Stream)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT e.stream_id FROM {log} e JOIN {streams} s ON s.id = e.stream_id"
            f" WHERE e.sort_us < %s AND (s.anchor_key_us IS NULL OR e.sort_us > s.anchor_key_us)"
            f" ORDER BY e.stream_id LIMIT %s",
            [cut, STREAMS_PER_FOLD],
        )
        ids = [stream_id for (stream_id,) in cursor.fetchall()]
    if not ids:
        return 0
    with transaction.atomic():
        rows, wts = locks.fold_streams(ids)
        anchors = {stream_id: anchor_of(stream) for stream_id, stream in rows.items()}
        pruned = _heartbeats(ids, cut, anchors)
        uuid_param, _ = bulk_sql.param_adapters()
        covered: dict[tuple[int, int], list] = defaultdict(list)
        stream_rows = []
        for stream_id, stream in rows.items():
            result = fold(anchors[stream_id], pruned.get(stream_id, []), limits, definitions.view.gap_us,
                          definitions.retention_resolution_seconds)
            a = result.anchor
            stream_rows.append((stream_id, uuid_param(a.heartbeat.event_id), a.heartbeat.at, a.heartbeat.ts_us,
                                a.heartbeat.key_us, a.folded_total, a.view_started_us, a.view_watch_time, a.view_furthest))
            covered[(stream.user_id, stream.movie_id)] += result.covered
        bulk_sql.update_from_values(Stream, ANCHOR_FIELDS, stream_rows)
        concurrency.fold_streams({s: a.heartbeat for s, a in anchors.items()}, pruned, limits)
        wt_rows = []
        for pair, bins in covered.items():
            wt = wts.get(pair)
            if wt is not None and bins:
                runs = coverage.change(coverage.decode(wt.folded_coverage), bins, []).runs
                wt_rows.append((wt.id, coverage.encode(runs)))
        bulk_sql.update_from_values(WatchTime, ("folded_coverage",), wt_rows)
    return len(ids)


def _heartbeats(stream_ids: list[int], cut: int, anchors: dict[int, Anchor]) -> dict[int, list[Heartbeat]]:
    """Each stream's heartbeats after its anchor and before the cut, by key."""
    out: dict[int, list[Heartbeat]] = defaultdict(list)
    rows = Event.objects.filter(stream_id__in=stream_ids, sort_us__lt=cut).order_by("stream_id", "sort_us", "at", "event_id")
    for stream_id, event_id, at, ts_us, sort_us in rows.values_list("stream_id", "event_id", "at", "ts_us", "sort_us"):
        hb = Heartbeat(event_id=event_id, at=at, ts_us=ts_us, key_us=sort_us)
        anchor = anchors[stream_id].heartbeat
        if anchor is None or hb.key > anchor.key:
            out[stream_id].append(hb)
    return out


def _delete_before(cut: int) -> tuple[int, int]:
    """(events deleted, partitions dropped). Whole partitions older than the cut are dropped;
    rows of a partition reaching past it (the pre-partitioning one) and on SQLite are deleted."""
    deleted, dropped = 0, 0
    if connection.vendor == "postgresql":
        for partition in partitions.existing(connection):
            if partition.end_us <= cut:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM {partition.name}")
                    deleted += cursor.fetchone()[0]
                    cursor.execute(f"DELETE FROM {bulk_sql.table(EventId)} WHERE event_id IN (SELECT event_id FROM {partition.name})")
                partitions.drop(connection, partition.name)
                dropped += 1
            elif partition.start_us is None or partition.start_us < cut:
                deleted += _delete_rows(partition.name, cut)
    else:
        deleted += _delete_rows(bulk_sql.table(Event), cut)
    return deleted, dropped


def _delete_rows(table: str, cut: int) -> int:
    """Delete rows older than the cut in chunks (each its own transaction), their ids too."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id, event_id FROM {table} WHERE sort_us < %s LIMIT {DELETE_CHUNK}", [cut])
            rows = cursor.fetchall()
            if not rows:
                return total
            ids = [r[0] for r in rows]
            cursor.execute(f"DELETE FROM {bulk_sql.table(EventId)} WHERE event_id IN ({bulk_sql.placeholders(len(rows))})",
                           [r[1] for r in rows])
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({bulk_sql.placeholders(len(ids))})", ids)
            total += len(ids)
