"""The one apply path: a batch of heartbeats into the event log, every total and every rollup,
exactly once.

Used by the consumer for a broker batch and by the API in the embedded mode. One transaction
per batch: the event log's `event_id` uniqueness drops duplicates, the per-stream state makes
every figure exact for any delivery order, and rows are locked in the one lock order (locks), so
concurrent consumers queue behind each other instead of deadlocking.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from watchtime.accounting import concurrency, live, locks, rollups
from watchtime.analytics import view_store
from watchtime.db import bulk_sql
from watchtime.db.errors import should_retry_transaction
from watchtime.definitions import Definitions, definitions_from_settings, limits_from_settings
from watchtime.events.horizon import horizon_us
from watchtime.events.log import StoredEvent, TailRequest, insert_events, read_with_event, stored_tails
from watchtime.events.models import CustomUser, Movie, Stream, WatchTime
from watchtime.events.validation import EventIn
from watchtime.privacy import tombstones
from watchtime.rule import coverage
from watchtime.rule.attribution import PairChanges, pair_changes
from watchtime.rule.credit import Heartbeat, Limits, Newest, newest
from watchtime.rule.views import Unrestatable, restate
from watchtime.timestamps import to_us

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
UNUSABLE_PASSWORD = "!"  # viewers never log in; "!" marks the password unusable


@dataclass
class ApplyResult:
    applied: list[EventIn] = field(default_factory=list)
    duplicates: int = 0
    too_old: int = 0  # older than the horizon (events.horizon): dropped
    suppressed: int = 0  # of an erased user (received before the erasure) or a suppressed one

    @property
    def skipped(self) -> dict[str, int]:
        """Events not applied, by the outcome the consumer's metric counts them under."""
        return {"duplicate": self.duplicates, "too_old": self.too_old, "suppressed": self.suppressed}


@dataclass
class StreamWork:
    """One stream's part of the batch."""

    stream_id: int
    user_id: int
    movie_id: int
    total: int
    head: StoredEvent | None
    last_view_id: int | None
    anchor: Heartbeat | None  # the newest heartbeat a prune folded
    new: list[tuple[Heartbeat, int]]  # (heartbeat, event pk), by key
    tail: list[Heartbeat] = field(default_factory=list)
    changes: PairChanges | None = None

    @property
    def in_order(self) -> bool:
        return self.head is None or self.new[0][0].key > self.head.heartbeat.key


def events_apply(*, events: list[EventIn], limits: Limits | None = None, definitions: Definitions | None = None) -> ApplyResult:
    """Apply a batch exactly once, in one transaction, retrying deadlocks and races."""
    limits = limits or limits_from_settings()
    definitions = definitions or definitions_from_settings()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _apply(events, limits, definitions)
        except locks.UserErased as exc:
            logger.info("apply retried", extra={"attempt": attempt, "error": str(exc)})
            continue
        except DatabaseError as exc:
            if attempt == MAX_ATTEMPTS or not should_retry_transaction(exc):
                raise
            logger.warning("apply retried", extra={"attempt": attempt, "error": type(exc).__name__})
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def _apply(events: list[EventIn], limits: Limits, definitions: Definitions) -> ApplyResult:
    """Set-based: a couple of dozen statements per batch whatever its size, plain tuples, no model objects."""
    distinct: dict[UUID, EventIn] = {}
    for event in events:
        distinct.setdefault(event.event_id, event)
    result = ApplyResult(duplicates=len(events) - len(distinct))
    if refused := tombstones.refused(list(distinct.values())):
        distinct = {k: e for k, e in distinct.items() if k not in refused}
        result.suppressed = len(refused)
    if not distinct:
        return result

    user_ids = _ensure_named(CustomUser, "username", {e.user for e in distinct.values()})
    movie_ids = _ensure_named(Movie, "slug", {e.slug for e in distinct.values()})
    stream_keys = {(user_ids[e.user], movie_ids[e.slug], e.session) for e in distinct.values()}
    stream_ids = locks.batch_streams(stream_keys)
    # Read after locking, in a new statement: see bulk_sql.lock_keyed.
    streams = read_with_event(Stream, "head_id", "head_key_us", STREAM_COLUMNS, stream_ids.values())
    # After the stream locks too: a prune folds a stream only under its lock (accounting.retention).
    horizon = horizon_us(timezone.now())

    # Under the stream locks no other batch can add events to these streams. The insert skips
    # events already in the log (redeliveries): what it returns is what is new.
    placed = [
        (e, stream_ids[(user_ids[e.user], movie_ids[e.slug], e.session)], e.heartbeat())
        for e in sorted(distinct.values(), key=lambda e: e.event_id)
    ]
    if horizon is not None:
        kept = [p for p in placed if p[2].key_us >= horizon]
        result.too_old, placed = len(placed) - len(kept), kept
    event_pks = insert_events(placed, {sid: row[:2] for sid, row in streams.items()})
    result.duplicates += len(placed) - len(event_pks)
    if not event_pks:
        return result

    work: dict[int, StreamWork] = {}
    for e, stream_id, hb in placed:
        if e.event_id in event_pks:
            result.applied.append(e)
            if stream_id not in work:
                work[stream_id] = _stream_work(stream_id, streams[stream_id])
            work[stream_id].new.append((hb, event_pks[e.event_id]))
    for item in work.values():
        item.new.sort(key=lambda row: row[0].key)
    # A late stream's tail reaches back as far as the concurrency slow path needs (concurrency.tail_key).
    tails = stored_tails([TailRequest(item.stream_id, item.head, item.new[0][0].key if item.in_order else
                                      concurrency.tail_key(item.new[0][0].key, limits), item.anchor) for item in work.values()],
                         new_pks=set(event_pks.values()))
    plays = []
    for item in work.values():
        new = [hb for hb, _ in item.new]
        item.tail = concurrency.trimmed(tails[item.stream_id], new[0].key)
        item.changes = pair_changes(item.tail, new, limits)
        plays.append(concurrency.play_change(item.stream_id, item.movie_id, in_order=item.in_order, new=new,
                                             wide_tail=tails[item.stream_id], changes=item.changes, limits=limits,
                                             anchor=item.anchor))

    changes = rollups.Changes(users={item.user_id for item in work.values()})
    rebuild: set[tuple[int, int]] = set()  # user-movies whose rollups must be rebuilt from the log
    last_views = _restate_views(work, definitions, changes, rebuild)
    stream_rows = []  # (id, new total, new head id, its key time, last view id)
    for item in work.values():
        last = StoredEvent(*item.new[-1]).newest
        head = newest(item.head.newest if item.head else None, last)
        stream_rows.append((item.stream_id, item.total + item.changes.credit_delta, head.pk, head.key[0],
                            last_views[item.stream_id]))
    bulk_sql.update_from_values(Stream, ("total", "head_id", "head_key_us", "last_view_id"), stream_rows)
    live.write([live.LiveChange(item.stream_id, item.movie_id, item.changes) for item in work.values()],
               {e.event_id: to_us(e.received_at) for e in result.applied})

    wt_ids = _apply_watch_times(work, definitions, changes, rebuild)
    rollups.write(changes, view_definition=definitions.view)
    concurrency.write([p for p in plays if p is not None])  # under the movie locks rollups.write took
    if rebuild:
        _mark_for_rebuild([wt_ids[pair] for pair in rebuild])
    return result


STREAM_COLUMNS = ("user_id", "movie_id", "total", "last_view_id", "anchor_event_id", "anchor_at", "anchor_ts_us", "anchor_key_us")


def _stream_work(stream_id: int, row: tuple) -> StreamWork:
    user_id, movie_id, total, last_view_id, anchor_id, anchor_at, anchor_ts_us, anchor_key_us, head = row
    anchor = None
    if anchor_key_us is not None:
        anchor = Heartbeat(event_id=bulk_sql.as_uuid(anchor_id), at=anchor_at, ts_us=anchor_ts_us, key_us=anchor_key_us)
        if head is None:  # pruned with everything before it: every kept event is newer than the anchor
            head = StoredEvent(anchor, 0)
    return StreamWork(stream_id, user_id, movie_id, total, head, last_view_id, anchor, new=[])


def _restate_views(work: dict[int, StreamWork], definitions: Definitions, changes: rollups.Changes,
                   rebuild: set) -> dict[int, int | None]:
    """Restate every touched stream's views and save them; stream id -> its last view's id."""
    last_view_rows = view_store.by_ids({w.last_view_id for w in work.values() if w.in_order and w.last_view_id})
    late_views = view_store.from_keys({w.stream_id: w.tail[0].key_us for w in work.values() if w.head is not None and not w.in_order})
    created: list[tuple[int, int, int, object]] = []
    updated, deleted = [], []
    last: dict[int, object] = {}
    for item in work.values():
        if item.head is None:
            touched = []
        elif item.in_order:
            touched = [last_view_rows[item.last_view_id]] if item.last_view_id in last_view_rows else []
        else:
            touched = late_views[item.stream_id]
        try:
            restated = restate(touched, item.changes, [hb for hb, _ in item.new], definitions.view.gap_us)
        except Unrestatable:
            rebuild.add((item.user_id, item.movie_id))
            last[item.stream_id] = None
            continue
        created += [(item.stream_id, item.user_id, item.movie_id, v) for v in restated.created]
        updated += restated.updated
        deleted += restated.deleted
        changes.views += [(item.movie_id, restated.before.get(v.id), v) for v in restated.updated]
        changes.views += [(item.movie_id, None, v) for v in restated.created]
        changes.views += [(item.movie_id, restated.before[i], None) for i in restated.deleted]
        last[item.stream_id] = restated.last
    new_ids = view_store.save(created=created, updated=updated, deleted=deleted)
    out = {}
    for item in work.values():
        view = last.get(item.stream_id)
        if view is None:
            out[item.stream_id] = item.last_view_id
        else:
            out[item.stream_id] = view.id if view.id is not None else new_ids[(item.stream_id, view.started_us)]
    return out


def _apply_watch_times(work: dict[int, StreamWork], definitions: Definitions, changes: rollups.Changes,
                       rebuild: set) -> dict[tuple[int, int], int]:
    """Totals, newest event and coverage per user-movie; credit per quarter into `changes`.
    Returns the watch-time ids by (user, movie)."""
    by_pair: dict[tuple[int, int], list[StreamWork]] = defaultdict(list)
    for item in work.values():
        by_pair[(item.user_id, item.movie_id)].append(item)
    wt_ids = locks.batch_watch_times(set(by_pair))
    watch_times = read_with_event(WatchTime, "last_event_id", "last_watched_us", ("total", "coverage"), wt_ids.values())
    resolution = definitions.retention_resolution_seconds
    wt_rows = []  # (id, total, last_moment, last_event_id, last_watched_us, coverage)
    for (user_id, movie_id), items in by_pair.items():
        wt_id = wt_ids[(user_id, movie_id)]
        total, runs, last_event = watch_times[wt_id]
        delta = sum(item.changes.credit_delta for item in items)
        last: Newest | None = last_event.newest if last_event else None
        add, remove = [], []
        for item in items:
            last = newest(last, StoredEvent(*item.new[-1]).newest)
            for pair in item.changes.added:
                changes.credit[(user_id, movie_id, pair.quarter)] += pair.credit
                add.append(coverage.covered_bins(pair, resolution))
            for pair in item.changes.removed:
                changes.credit[(user_id, movie_id, pair.quarter)] -= pair.credit
                remove.append(coverage.covered_bins(pair, resolution))
        covered = coverage.change(coverage.decode(runs), [b for b in add if b], [b for b in remove if b])
        if covered.underflow:
            rebuild.add((user_id, movie_id))
        for k, sign in coverage.bin_deltas(covered.gained, covered.lost):
            changes.bins[(movie_id, k)] += sign
        if bool(runs) != bool(covered.runs):  # credited > 0 exactly when some bin is covered
            changes.movie_viewers[movie_id] += 1 if covered.runs else -1
        changes.user_totals[user_id] += delta
        changes.movie_totals[movie_id] += delta
        wt_rows.append((wt_id, total + delta, last.at, last.pk, last.key[0], coverage.encode(covered.runs)))
    bulk_sql.update_from_values(WatchTime, ("total", "last_moment", "last_event_id", "last_watched_us", "coverage"), wt_rows)
    return wt_ids


def _mark_for_rebuild(watch_time_ids: list[int]) -> None:
    """Leave these user-movies to the backfill, which rebuilds their analytics from the log.

    Happens where the stored analytics rows could not take this batch's change exactly (a
    user-movie whose events predate the analytics and are not backfilled yet)."""
    logger.info("analytics of %d user-movies wait for the backfill", len(watch_time_ids))
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(watch_time_ids)):
            cursor.execute(
                f"UPDATE {bulk_sql.table(WatchTime)} SET analytics_ready = %s WHERE id IN ({bulk_sql.placeholders(len(chunk))})",
                [False, *chunk],
            )


def _ensure_named(model, field_name: str, names: set[str]) -> dict[str, int]:
    """Ids of the rows named `names`, creating the missing ones (sorted, to keep lock order)."""
    ids = bulk_sql.ids_by(model, field_name, sorted(names))
    missing = sorted(names - ids.keys())
    if missing:
        if model is Movie:
            objs = [Movie(slug=name, title=name) for name in missing]
        else:
            objs = [CustomUser(username=name, password=UNUSABLE_PASSWORD) for name in missing]
        model.objects.bulk_create(objs, ignore_conflicts=True)
        ids.update(bulk_sql.ids_by(model, field_name, missing))
    return ids
