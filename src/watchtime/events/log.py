"""The event log as the apply path reads and writes it: inserting a batch's new events, a
stream's stored tail, and rows joined with the event they point at."""

from dataclasses import dataclass
from uuid import UUID

from django.db import connection
from django.db.models import Q

from watchtime.events import bulk_sql
from watchtime.events.models import Event
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
    stream id -> (user id, movie id)."""
    row = "(" + bulk_sql.placeholders(len(EVENT_COLUMNS)) + ")"
    uuid_param, datetime_param = bulk_sql.param_adapters()
    pks: dict[UUID, int] = {}
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(placed):
            params = []
            for e, stream_id, hb in chunk:
                user_id, movie_id = stream_owners[stream_id]
                params += [
                    uuid_param(e.event_id), stream_id, user_id, movie_id, e.at, e.session,
                    datetime_param(e.ts), datetime_param(e.received_at), hb.ts_us, hb.key_us, True,
                ]
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(Event)} ({', '.join(EVENT_COLUMNS)}) VALUES "
                f"{', '.join([row] * len(chunk))} ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id",
                params,
            )
            pks.update((bulk_sql.as_uuid(event_id), pk) for pk, event_id in cursor.fetchall())
    return pks


def stored_tail(stream_id: int, head: StoredEvent | None, earliest_new_key: tuple, new_pks: list[int]) -> list[Heartbeat]:
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


def read_with_event(model, event_column: str, columns: tuple[str, ...], ids) -> dict[int, tuple]:
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
