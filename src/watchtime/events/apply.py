"""The one apply path: a batch of heartbeats into the event log and every total, exactly once.

Used by the consumer for a broker batch and by the API in the embedded mode. One transaction
per batch: the event log's `event_id` uniqueness drops duplicates, the per-stream state makes
the totals exact for any delivery order, and rows are locked table by table in a fixed order
(streams, watch times, users, movies; sorted keys within a table) so concurrent consumers queue
behind each other instead of deadlocking.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from django.db import DatabaseError, connection, transaction
from django.db.models import Q

from watchtime.dberrors import should_retry_transaction
from watchtime.events import bulk_sql
from watchtime.events.definitions import limits_from_settings
from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime
from watchtime.events.validation import EventIn
from watchtime.rule.credit import Heartbeat, Limits, Newest, added_credit, newest

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
UNUSABLE_PASSWORD = "!"  # viewers never log in; "!" marks the password unusable
EVENT_COLUMNS = ("event_id", "stream_id", "user_id", "movie_id", "at", "session", "ts", "received_at", "ts_us", "sort_us")


@dataclass
class ApplyResult:
    applied: list[EventIn] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event of the log as the rule sees it, with its row id."""

    heartbeat: Heartbeat
    pk: int

    @property
    def newest(self) -> Newest:
        return Newest(key=self.heartbeat.key, pk=self.pk, at=self.heartbeat.at)


def events_apply(*, events: list[EventIn], limits: Limits | None = None) -> ApplyResult:
    """Apply a batch exactly once, in one transaction, retrying deadlocks and races."""
    limits = limits or limits_from_settings()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _apply(events, limits)
        except DatabaseError as exc:
            if attempt == MAX_ATTEMPTS or not should_retry_transaction(exc):
                raise
            logger.warning("apply retried", extra={"attempt": attempt, "error": type(exc).__name__})
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def _apply(events: list[EventIn], limits: Limits) -> ApplyResult:
    """Set-based: about a dozen statements per batch whatever its size, plain tuples, no model objects."""
    distinct: dict[UUID, EventIn] = {}
    for event in events:
        distinct.setdefault(event.event_id, event)
    result = ApplyResult(duplicates=len(events) - len(distinct))

    user_ids = _ensure_named(CustomUser, "username", {e.user for e in distinct.values()})
    movie_ids = _ensure_named(Movie, "slug", {e.slug for e in distinct.values()})
    stream_keys = {(user_ids[e.user], movie_ids[e.slug], e.session) for e in distinct.values()}
    stream_ids = bulk_sql.lock_keyed(Stream, ("user_id", "movie_id", "session"), stream_keys)
    # Read after locking, in a new statement: see bulk_sql.lock_keyed.
    streams = _read_with_event(Stream, "head_id", ("user_id", "movie_id", "total"), stream_ids.values())

    # Under the stream locks no other batch can add events to these streams. The insert skips
    # events already in the log (redeliveries): what it returns is what is new.
    placed = [
        (e, stream_ids[(user_ids[e.user], movie_ids[e.slug], e.session)], e.heartbeat())
        for e in sorted(distinct.values(), key=lambda e: e.event_id)
    ]
    event_pks = _insert_events(placed, streams)
    result.duplicates += len(distinct) - len(event_pks)
    if not event_pks:
        return result

    # The new events, and per stream its new events in key order.
    by_stream: dict[int, list[tuple[Heartbeat, EventIn]]] = defaultdict(list)
    for e, stream_id, hb in placed:
        if e.event_id in event_pks:
            result.applied.append(e)
            by_stream[stream_id].append((hb, e))
    for rows in by_stream.values():
        rows.sort(key=lambda row: row[0].key)

    stream_rows = []  # (id, new total, new head id)
    pair_deltas: dict[tuple[int, int], int] = defaultdict(int)  # (user, movie) -> credit added
    pair_newest: dict[tuple[int, int], Newest] = {}  # (user, movie) -> newest new event
    for stream_id, rows in by_stream.items():
        user_id, movie_id, total, head = streams[stream_id]
        new_pks = [event_pks[e.event_id] for _, e in rows]
        tail = _stored_tail(stream_id, head, rows[0][0].key, new_pks)
        delta = added_credit(tail, [hb for hb, _ in rows], limits)
        last = StoredEvent(rows[-1][0], new_pks[-1]).newest
        stream_head = newest(head.newest if head else None, last)
        stream_rows.append((stream_id, total + delta, stream_head.pk))
        pair_deltas[(user_id, movie_id)] += delta
        pair_newest[(user_id, movie_id)] = newest(pair_newest.get((user_id, movie_id)), last)
    bulk_sql.update_from_values(Stream, ("total", "head_id"), stream_rows)

    wt_ids = bulk_sql.lock_keyed(WatchTime, ("user_id", "movie_id"), set(pair_deltas))
    watch_times = _read_with_event(WatchTime, "last_event_id", ("total",), wt_ids.values())
    user_deltas: dict[int, int] = defaultdict(int)
    movie_deltas: dict[int, int] = defaultdict(int)
    wt_rows = []  # (id, new total, last_moment, last_event_id)
    for (user_id, movie_id), delta in pair_deltas.items():
        wt_id = wt_ids[(user_id, movie_id)]
        total, last_event = watch_times[wt_id]
        last = newest(last_event.newest if last_event else None, pair_newest[(user_id, movie_id)])
        wt_rows.append((wt_id, total + delta, last.at, last.pk))
        user_deltas[user_id] += delta
        movie_deltas[movie_id] += delta
    bulk_sql.update_from_values(WatchTime, ("total", "last_moment", "last_event_id"), wt_rows)
    bulk_sql.increment_locked(CustomUser, "total_watch_time", user_deltas)
    bulk_sql.increment_locked(Movie, "total_watch_time", movie_deltas)
    return result


def _insert_events(placed: list[tuple], streams: dict[int, tuple]) -> dict[UUID, int]:
    """INSERT the events (in event-id order, as `placed` is: (event, stream id, heartbeat)) that
    the log does not hold yet; returns event_id -> pk of those inserted."""
    row = "(" + bulk_sql.placeholders(len(EVENT_COLUMNS)) + ")"
    uuid_param, datetime_param = bulk_sql.param_adapters()
    pks: dict[UUID, int] = {}
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(placed):
            params = []
            for e, stream_id, hb in chunk:
                user_id, movie_id = streams[stream_id][:2]
                params += [
                    uuid_param(e.event_id), stream_id, user_id, movie_id, e.at, e.session,
                    datetime_param(e.ts), datetime_param(e.received_at), hb.ts_us, hb.key_us,
                ]
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(Event)} ({', '.join(EVENT_COLUMNS)}) VALUES "
                f"{', '.join([row] * len(chunk))} ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id",
                params,
            )
            pks.update((bulk_sql.as_uuid(event_id), pk) for pk, event_id in cursor.fetchall())
    return pks


def _stored_tail(stream_id: int, head: StoredEvent | None, earliest_new_key: tuple, new_pks: list[int]) -> list[Heartbeat]:
    """The stream's events of earlier batches from the predecessor of the earliest new event to
    the end, by key. `head` is the stream's newest event before this batch, or None; `new_pks`
    are the stream's events of this batch, already inserted."""
    if head is None:
        return []
    if earliest_new_key > head.heartbeat.key:  # the common case: in order
        return [head.heartbeat]
    key_us, at, event_id = earliest_new_key
    before = Q(sort_us__lt=key_us) | Q(sort_us=key_us, at__lt=at) | Q(sort_us=key_us, at=at, event_id__lt=event_id)
    stored = (
        Event.objects.filter(stream_id=stream_id)
        .exclude(id__in=new_pks)
        .values_list("event_id", "at", "ts_us", "sort_us")
    )
    predecessor = list(stored.filter(before).order_by("-sort_us", "-at", "-event_id")[:1])
    rows = [*predecessor, *stored.exclude(before)]
    return sorted((Heartbeat(event_id=e, at=a, ts_us=t, key_us=s) for e, a, t, s in rows), key=lambda hb: hb.key)


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


def _read_with_event(model, event_column: str, columns: tuple[str, ...], ids) -> dict[int, tuple]:
    """id -> (*columns, the StoredEvent in `event_column`, or None)."""
    out = {}
    selected = ", ".join(f"r.{c}" for c in columns)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(ids)):
            cursor.execute(
                f"SELECT r.id, {selected}, e.id, e.event_id, e.at, e.ts_us, e.sort_us FROM {bulk_sql.table(model)} r "
                f"LEFT JOIN {bulk_sql.table(Event)} e ON e.id = r.{event_column} "
                f"WHERE r.id IN ({bulk_sql.placeholders(len(chunk))})",
                chunk,
            )
            for row in cursor.fetchall():
                values, (pk, event_id, at, ts_us, sort_us) = row[1 : 1 + len(columns)], row[1 + len(columns) :]
                event = None
                if pk is not None:
                    hb = Heartbeat(event_id=bulk_sql.as_uuid(event_id), at=at, ts_us=ts_us, key_us=sort_us)
                    event = StoredEvent(hb, pk)
                out[row[0]] = (*values, event)
    return out
