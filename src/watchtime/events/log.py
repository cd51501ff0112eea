"""The event log as the apply path reads and writes it: inserting a batch's new events, the
streams' stored tails, and rows joined with the event they point at."""

from dataclasses import dataclass
from uuid import UUID

from django.db import connection

from watchtime.db import bulk_sql
from watchtime.events import partitions
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


@dataclass(frozen=True, slots=True)
class TailRequest:
    """What a stream's tail is read for: its newest event before this batch (None: a new stream),
    the key of the batch's earliest event in it, and its newest pruned heartbeat (the
    predecessor when no kept event precedes)."""

    stream_id: int
    head: StoredEvent | None
    earliest_new_key: tuple
    anchor: Heartbeat | None = None


def stored_tails(requests: list[TailRequest], new_pks: set[int]) -> dict[int, list[Heartbeat]]:
    """Each stream's events of earlier batches from the predecessor of its earliest new event to
    the end, by key; `new_pks` are this batch's events, already inserted. In order (the common
    case) that is the head alone; the late streams take two statements per chunk whatever their
    number: the predecessors' ids (the newest stored key before the earliest new one), then
    those rows and every stored row from that key on."""
    tails: dict[int, list[Heartbeat]] = {}
    late = []
    for r in requests:
        if r.head is None:
            tails[r.stream_id] = []
        elif r.earliest_new_key > r.head.heartbeat.key:
            tails[r.stream_id] = [r.head.heartbeat]
        else:
            late.append(r)
    if not late:
        return tails
    log = bulk_sql.table(Event)
    uuid_param, _ = bulk_sql.param_adapters()
    rows: dict[int, list] = {r.stream_id: [] for r in late}
    have_predecessor = set()
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(late):
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params = [v for r in chunk for v in (r.stream_id, r.earliest_new_key[0], r.earliest_new_key[1],
                                                  uuid_param(r.earliest_new_key[2]))]
            cursor.execute(
                f"SELECT (SELECT p.id FROM {log} p WHERE p.stream_id = r.column1"
                f" AND (p.sort_us, p.at, p.event_id) < (r.column2, r.column3, r.column4)"
                f" ORDER BY p.sort_us DESC, p.at DESC, p.event_id DESC LIMIT 1) FROM (VALUES {values}) AS r",
                params,
            )
            predecessors = [pk for (pk,) in cursor.fetchall() if pk is not None]
            by_id = f" UNION ALL SELECT e.stream_id, e.id, e.event_id, e.at, e.ts_us, e.sort_us FROM {log} e" \
                    f" WHERE e.id IN ({bulk_sql.placeholders(len(predecessors))})" if predecessors else ""
            cursor.execute(
                f"SELECT e.stream_id, e.id, e.event_id, e.at, e.ts_us, e.sort_us FROM (VALUES {values}) AS r"
                f" JOIN {log} e ON e.stream_id = r.column1"
                f" WHERE (e.sort_us, e.at, e.event_id) >= (r.column2, r.column3, r.column4){by_id}",
                params + predecessors,
            )
            predecessor_ids = set(predecessors)
            for stream_id, pk, event_id, at, ts_us, sort_us in cursor.fetchall():
                if pk in new_pks:
                    continue
                if pk in predecessor_ids:
                    have_predecessor.add(stream_id)
                rows[stream_id].append(Heartbeat(event_id=bulk_sql.as_uuid(event_id), at=at, ts_us=ts_us, key_us=sort_us))
    for r in late:
        tail = sorted(rows[r.stream_id], key=lambda hb: hb.key)
        if r.stream_id not in have_predecessor and r.anchor is not None:
            tail.insert(0, r.anchor)
        tails[r.stream_id] = tail
    return tails


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
