"""The event log as the apply path reads and writes it: inserting a batch's new events, a
stream's stored tail, and rows joined with the event they point at."""

from dataclasses import dataclass
from uuid import UUID

from django.db import connection
from django.db.models import Q

from watchtime.events import bulk_sql, partitions
from watchtime.events.models import Event, EventId
from watchtime.rule.credit import Heartbeat, Newest

EVENT_COLUMNS = (
    "event_id", "stream_id", "user_id", "movie_id", "at", "session", "ts", "received_at", "ts_us", "sort_us", "rolled_up",
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event of the log as the rule sees it, with its row id."""

    heartbeat: Heartbeat
    pk: int

    @property
    def newest(self) -> Newest:
        return Newest(key=self.heartbeat.key, pk=self.pk, at=self.heartbeat.at)


def insert_events(placed: list[tuple], stream_owners: dict[int, tuple[int, int]]) -> dict[UUID, int]:
    """INSERT the events (in event-id order, as `placed` is: (event, stream id, heartbeat)) that
    the log does not hold yet; returns event_id -> pk of those inserted. `stream_owners`:
    stream id -> (user id, movie id).

    The ids go into events_eventid first, set-based: what that INSERT returns is new (a unique
    index per partition could not see a retry without `ts` in another partition). The previous
    release's table has a trigger doing the same for its inserts; this transaction tells it that
    its ids are recorded (migration 0008)."""
    if not placed:
        return {}
    if connection.vendor == "postgresql":
        partitions.ensure_covers(connection, max(hb.key_us for _, _, hb in placed))
    uuid_param, datetime_param = bulk_sql.param_adapters()
    new: set[UUID] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL watchtime.ids_recorded = 'on'")
        for chunk in bulk_sql.chunks(placed):
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(EventId)} (event_id, sort_us) VALUES {', '.join(['(%s, %s)'] * len(chunk))}"
                " ON CONFLICT DO NOTHING RETURNING event_id",
                [v for e, _, hb in chunk for v in (uuid_param(e.event_id), hb.key_us)],
            )
            new.update(bulk_sql.as_uuid(event_id) for (event_id,) in cursor.fetchall())
    fresh = [item for item in placed if item[0].event_id in new]
    row = "(" + bulk_sql.placeholders(len(EVENT_COLUMNS)) + ")"
    pks: dict[UUID, int] = {}
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(fresh):
            params = []
            for e, stream_id, hb in chunk:
                user_id, movie_id = stream_owners[stream_id]
                params += [
                    uuid_param(e.event_id), stream_id, user_id, movie_id, e.at, e.session,
                    datetime_param(e.ts), datetime_param(e.received_at), hb.ts_us, hb.key_us, True,
                ]
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(Event)} ({', '.join(EVENT_COLUMNS)}) VALUES "
                f"{', '.join([row] * len(chunk))} RETURNING id, event_id",
                params,
            )
            pks.update((bulk_sql.as_uuid(event_id), pk) for pk, event_id in cursor.fetchall())
    return pks


def stored_tail(stream_id: int, head: StoredEvent | None, earliest_new_key: tuple, new_pks: list[int],
                anchor: Heartbeat | None = None) -> list[Heartbeat]:
    """The stream's events of earlier batches from the predecessor of the earliest new event to
    the end, by key. `head` is the stream's newest event before this batch, or None; `new_pks`
    are the stream's events of this batch, already inserted; `anchor` the newest pruned
    heartbeat, the predecessor when no kept event precedes (every kept or new event is newer)."""
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
    tail = sorted((Heartbeat(event_id=e, at=a, ts_us=t, key_us=s) for e, a, t, s in rows), key=lambda hb: hb.key)
    if not predecessor and anchor is not None:
        tail.insert(0, anchor)
    return tail


def read_with_event(model, event_column: str, key_column: str, columns: tuple[str, ...], ids) -> dict[int, tuple]:
    """id -> (*columns, the StoredEvent in `event_column`, or None).

    The join also matches the event's key time (`key_column`), so PostgreSQL looks in one
    partition of the log. Where that finds nothing although the pointer is set (the key time was
    written by the previous release, which does not keep it), the event is looked up by id alone.
    """
    out = {}
    missed = {}
    selected = ", ".join(f"r.{c}" for c in columns)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(ids)):
            cursor.execute(
                f"SELECT r.id, {selected}, r.{event_column}, e.id, e.event_id, e.at, e.ts_us, e.sort_us"
                f" FROM {bulk_sql.table(model)} r LEFT JOIN {bulk_sql.table(Event)} e"
                f" ON e.id = r.{event_column} AND e.sort_us = r.{key_column}"
                f" WHERE r.id IN ({bulk_sql.placeholders(len(chunk))})",
                chunk,
            )
            for row in cursor.fetchall():
                values, pointer, event = row[1 : 1 + len(columns)], row[1 + len(columns)], row[2 + len(columns) :]
                out[row[0]] = (*values, _stored(*event))
                if pointer is not None and event[0] is None:
                    missed[pointer] = row[0]
    if missed:
        for event in _by_ids(list(missed)):
            owner = out[missed[event.pk]]
            out[missed[event.pk]] = (*owner[:-1], event)
    return out


def _stored(pk, event_id, at, ts_us, sort_us) -> StoredEvent | None:
    if pk is None:
        return None
    return StoredEvent(Heartbeat(event_id=bulk_sql.as_uuid(event_id), at=at, ts_us=ts_us, key_us=sort_us), pk)


def _by_ids(pks: list[int]) -> list[StoredEvent]:
    found = []
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(pks)):
            cursor.execute(
                f"SELECT id, event_id, at, ts_us, sort_us FROM {bulk_sql.table(Event)} WHERE id IN ({bulk_sql.placeholders(len(chunk))})",
                chunk,
            )
            found += [_stored(*row) for row in cursor.fetchall()]
    return found
