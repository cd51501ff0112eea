"""Writes: applying heartbeat batches to the log and the totals, ingest, movie metadata.

`events_apply` is the one apply path, used by the consumer for a broker batch and by the API
in the embedded mode. It runs one transaction per batch: the event log's `event_id`
uniqueness drops duplicates, the per-stream state makes the totals exact for any delivery
order, and rows are locked table by table in a fixed order (sorted keys within a table) so
concurrent consumers queue behind each other instead of deadlocking.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Q

from watchtime import metrics
from watchtime.errors import DomainError
from watchtime.events import accounting
from watchtime.events.accounting import Heartbeat, Limits
from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime
from watchtime.events.validation import EventIn, message_payload

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs that mean "run the transaction again": serialization failure, deadlock.
RETRYABLE_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 5
UNUSABLE_PASSWORD = "!"  # viewers never log in; "!" marks the password unusable


@dataclass
class ApplyResult:
    applied: list[EventIn] = field(default_factory=list)
    duplicates: int = 0


def limits_from_settings() -> Limits:
    return Limits(
        max_credit_seconds=settings.WATCHTIME_MAX_CREDIT_SECONDS,
        max_step_seconds=settings.WATCHTIME_MAX_STEP_SECONDS,
    )


RETRY_AFTER_SECONDS = "5"


def events_ingest(*, events: list[EventIn]) -> None:
    """Make accepted events durable: a confirmed publish, or (embedded mode) a committed apply.

    Raises DomainError 503 (with Retry-After) when that cannot be done now.
    """
    if settings.RABBITMQ is None:
        try:
            events_apply(events=events)
        except OperationalError as exc:
            raise _unavailable("database_unavailable", "The database is unavailable.") from exc
        return
    from watchtime import rabbitmq  # the broker client is only loaded where a broker is configured

    try:
        with metrics.PUBLISH_SECONDS.time():
            rabbitmq.publish(message_payload(events))
    except rabbitmq.BrokerUnavailable as exc:
        logger.warning("publish failed", extra={"error": str(exc), "events": len(events)})
        raise _unavailable("broker_unavailable", "The message broker is unavailable; nothing was accepted.") from exc


def _unavailable(code: str, message: str) -> DomainError:
    return DomainError(code, message, status=503, headers={"Retry-After": RETRY_AFTER_SECONDS})


def events_apply(*, events: list[EventIn], limits: Limits | None = None) -> ApplyResult:
    """Apply a batch exactly once, in one transaction, retrying deadlocks and races."""
    limits = limits or limits_from_settings()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _apply(events, limits)
        except (IntegrityError, DatabaseError) as exc:
            if attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            logger.warning("apply retried", extra={"attempt": attempt, "error": type(exc).__name__})
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def _is_retryable(exc: Exception) -> bool:
    # A unique violation means a concurrent batch inserted the same event or name first; the
    # retry sees its committed row and treats ours as a duplicate.
    if isinstance(exc, IntegrityError):
        return True
    return getattr(getattr(exc, "__cause__", None), "pgcode", None) in RETRYABLE_SQLSTATES


def _apply(events: list[EventIn], limits: Limits) -> ApplyResult:
    """Set-based: about a dozen statements per batch whatever its size, plain tuples, no model objects.

    The SQL (row-value IN, INSERT .. RETURNING, UPDATE .. FROM (VALUES ..)) runs unchanged on
    PostgreSQL and SQLite >= 3.35; FOR UPDATE is added where the database has it.
    """
    distinct: dict[UUID, EventIn] = {}
    for event in events:
        distinct.setdefault(event.event_id, event)
    result = ApplyResult(duplicates=len(events) - len(distinct))

    user_ids = _ensure_named(CustomUser, "username", {e.user for e in distinct.values()})
    movie_ids = _ensure_named(Movie, "slug", {e.slug for e in distinct.values()})
    stream_keys = {(user_ids[e.user], movie_ids[e.slug], e.session) for e in distinct.values()}
    stream_ids = _lock_keyed(Stream, ("user_id", "movie_id", "session"), stream_keys)
    # Read after locking, in a new statement: see _lock_keyed.
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

    # The new events, and (key, heartbeat, event) per new event grouped by stream in key order.
    new = []
    by_stream: dict[int, list[tuple]] = defaultdict(list)
    for e, stream_id, hb in placed:
        if e.event_id in event_pks:
            new.append(e)
            by_stream[stream_id].append((hb.key, hb, e))
    for rows in by_stream.values():
        rows.sort(key=lambda row: row[0])
    tails = {
        sid: _stored_tail(sid, streams[sid][3], rows[0][0], [event_pks[row[2].event_id] for row in rows])
        for sid, rows in by_stream.items()
    }

    stream_rows = []  # (id, new total, new head id)
    pair_updates: dict[tuple[int, int], list] = {}  # (user, movie) -> [delta, newest key, its pk, its at]
    for stream_id, rows in by_stream.items():
        user_id, movie_id, total, head = streams[stream_id]
        delta = accounting.added_credit([hb for _, hb in tails[stream_id]], [row[1] for row in rows], limits)
        last_key, _, last_event = rows[-1]
        newest_pk = event_pks[last_event.event_id]
        head_pk = newest_pk if head is None or last_key > head[0] else head[2]
        stream_rows.append((stream_id, total + delta, head_pk))
        pair = pair_updates.setdefault((user_id, movie_id), [0, None, None, 0])
        pair[0] += delta
        if pair[1] is None or last_key > pair[1]:
            pair[1:] = [last_key, newest_pk, last_event.at]
    _update_from_values(Stream, ("total", "head_id"), stream_rows)

    wt_ids = _lock_keyed(WatchTime, ("user_id", "movie_id"), set(pair_updates))
    watch_times = _read_with_event(WatchTime, "last_event_id", ("user_id", "movie_id", "total", "last_moment"), wt_ids.values())
    user_deltas: dict[int, int] = defaultdict(int)
    movie_deltas: dict[int, int] = defaultdict(int)
    wt_rows = []  # (id, new total, last_moment, last_event_id)
    for (user_id, movie_id), (delta, newest_key, newest_pk, newest_at) in pair_updates.items():
        wt_id = wt_ids[(user_id, movie_id)]
        _, _, total, last_moment, last_event = watch_times[wt_id]
        if last_event is None or newest_key > last_event[0]:
            wt_rows.append((wt_id, total + delta, newest_at, newest_pk))
        else:
            wt_rows.append((wt_id, total + delta, last_moment, last_event[2]))
        user_deltas[user_id] += delta
        movie_deltas[movie_id] += delta
    _update_from_values(WatchTime, ("total", "last_moment", "last_event_id"), wt_rows)
    _increment_locked(CustomUser, "total_watch_time", user_deltas)
    _increment_locked(Movie, "total_watch_time", movie_deltas)

    result.applied = new
    return result


# Rows per statement: far below SQLite's 32766 bound variables and PostgreSQL's 65535.
CHUNK = 1000
EVENT_COLUMNS = ("event_id", "stream_id", "user_id", "movie_id", "at", "session", "ts", "received_at", "ts_us", "sort_us")


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _as_uuid(value) -> UUID:
    # psycopg2 returns UUIDs; SQLite stores Django's UUIDField as 32 hex characters.
    return value if isinstance(value, UUID) else UUID(value)


def _param_adapters():
    """(uuid -> parameter, datetime -> parameter) for this database, looked up once per batch:
    psycopg2 takes both as they are; SQLite wants Django's text forms."""
    if connection.vendor == "postgresql":
        return (lambda value: value), (lambda value: value)
    adapt_datetime = connection.ops.adapt_datetimefield_value
    return (lambda value: value.hex), (lambda value: None if value is None else adapt_datetime(value))


def _insert_events(placed: list[tuple], streams: dict[int, tuple]) -> dict[UUID, int]:
    """INSERT the events (in event-id order, as `placed` is: (event, stream id, heartbeat)) that
    the log does not hold yet; returns event_id -> pk of those inserted."""
    placeholders = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    uuid_param, datetime_param = _param_adapters()
    pks: dict[UUID, int] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(placed):
            params = []
            for e, stream_id, hb in chunk:
                user_id, movie_id = streams[stream_id][:2]
                params += [
                    uuid_param(e.event_id), stream_id, user_id, movie_id, e.at, e.session,
                    datetime_param(e.ts), datetime_param(e.received_at), hb.ts_us, hb.key[0],
                ]
            cursor.execute(
                f"INSERT INTO {_table(Event)} ({', '.join(EVENT_COLUMNS)}) VALUES "
                f"{', '.join([placeholders] * len(chunk))} ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id",
                params,
            )
            pks.update((_as_uuid(event_id), pk) for pk, event_id in cursor.fetchall())
    return pks


def _stored_tail(stream_id: int, head: tuple | None, earliest_new_key: tuple, new_pks: list[int]) -> list[tuple]:
    """The stream's events of earlier batches, as (key, heartbeat), from the predecessor of the
    earliest new event to the end, by key. `head` is the stream's (key, heartbeat, pk) before
    this batch, or None; `new_pks` are the stream's events of this batch, already inserted."""
    if head is None:
        return []
    if earliest_new_key > head[0]:  # the common case: in order
        return [head[:2]]
    sort_us, at, event_id = earliest_new_key
    before = Q(sort_us__lt=sort_us) | Q(sort_us=sort_us, at__lt=at) | Q(sort_us=sort_us, at=at, event_id__lt=event_id)
    stored = (
        Event.objects.filter(stream_id=stream_id)
        .exclude(id__in=new_pks)
        .values_list("event_id", "at", "ts_us", "sort_us")
    )
    predecessor = list(stored.filter(before).order_by("-sort_us", "-at", "-event_id")[:1])
    rows = [*predecessor, *stored.exclude(before)]
    tail = [Heartbeat(event_id=e, at=a, ts_us=t, received_us=s) for e, a, t, s in rows]
    return sorted(((hb.key, hb) for hb in tail), key=lambda item: item[0])


def _ensure_named(model, field_name: str, names: set[str]) -> dict[str, int]:
    """Ids of the rows named `names`, creating the missing ones (sorted, to keep lock order)."""
    ids = _ids_by(model, field_name, sorted(names))
    missing = sorted(names - ids.keys())
    if missing:
        if model is Movie:
            objs = [Movie(slug=name, title=name) for name in missing]
        else:
            objs = [CustomUser(username=name, password=UNUSABLE_PASSWORD) for name in missing]
        model.objects.bulk_create(objs, ignore_conflicts=True)
        ids.update(_ids_by(model, field_name, missing))
    return ids


def _ids_by(model, field_name: str, names: list[str]) -> dict[str, int]:
    found = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(names):
            cursor.execute(
                f"SELECT {field_name}, id FROM {_table(model)} WHERE {field_name} IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            found.update(cursor.fetchall())
    return found


def _lock_keyed(model, fields: tuple[str, ...], keys: set[tuple]) -> dict[tuple, int]:
    """Lock the rows with these unique `keys` (creating the missing ones); key -> id.

    Existing rows are locked in id order; rows created here are new, so no other batch holds
    them. Read the locked rows' columns with a *separate* statement afterwards: under READ
    COMMITTED a statement that waited for a lock sees the locked row's new version but not rows
    another batch inserted meanwhile (its new head event), so a join here could be stale.
    """
    ids = _select_keyed(model, fields, sorted(keys))
    missing = sorted(keys - ids.keys())
    if missing:
        model.objects.bulk_create([model(**dict(zip(fields, key, strict=True))) for key in missing], ignore_conflicts=True)
        ids.update(_select_keyed(model, fields, missing))
    return ids


def _select_keyed(model, fields: tuple[str, ...], keys: list[tuple]) -> dict[tuple, int]:
    """key -> id of the rows with these keys, locked in id order."""
    found = {}
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for chunk in _chunks(keys):
            cursor.execute(
                f"SELECT id, {', '.join(fields)} FROM {_table(model)} WHERE ({', '.join(fields)}) IN "
                f"(VALUES {', '.join([row] * len(chunk))}) ORDER BY id{_for_update()}",
                [value for key in chunk for value in key],
            )
            found.update((tuple(r[1:]), r[0]) for r in cursor.fetchall())
    return found


def _read_with_event(model, event_column: str, columns: tuple[str, ...], ids) -> dict[int, tuple]:
    """id -> (*columns, (key, heartbeat, pk) of the event in `event_column`, or None)."""
    out = {}
    selected = ", ".join(f"r.{c}" for c in columns)
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(ids)):
            cursor.execute(
                f"SELECT r.id, {selected}, e.id, e.event_id, e.at, e.ts_us, e.sort_us FROM {_table(model)} r "
                f"LEFT JOIN {_table(Event)} e ON e.id = r.{event_column} WHERE r.id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for row in cursor.fetchall():
                values, (pk, event_id, at, ts_us, sort_us) = row[1 : 1 + len(columns)], row[1 + len(columns) :]
                event = None
                if pk is not None:
                    hb = Heartbeat(event_id=_as_uuid(event_id), at=at, ts_us=ts_us, received_us=sort_us)
                    event = (hb.key, hb, pk)
                out[row[0]] = (*values, event)
    return out


def _lock_ids(rows) -> list[int]:
    """Lock `rows` (a queryset) in id order and return their ids."""
    return list(rows.select_for_update().order_by("id").values_list("id", flat=True))


def _update_from_values(model, columns: tuple[str, ...], rows: list[tuple], *, increment: bool = False) -> None:
    """One UPDATE per chunk: each row is (id, *values); columns are set to (or, with
    `increment`, increased by) the values. UPDATE .. FROM (VALUES ..) runs on PostgreSQL and
    SQLite >= 3.33; VALUES columns are named column1, column2, ... on both."""
    table = _table(model)
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    assignments = ", ".join(
        f"{c} = {table}.{c} + v.column{i + 2}" if increment else f"{c} = v.column{i + 2}" for i, c in enumerate(columns)
    )
    with connection.cursor() as cursor:
        for chunk in _chunks(sorted(rows)):
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {table}.id = v.column1",
                [value for r in chunk for value in r],
            )


def _increment_locked(model, column: str, deltas: dict[int, int]) -> None:
    ids = sorted(i for i, d in deltas.items() if d)
    if not ids:
        return
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            cursor.execute(
                f"SELECT id FROM {_table(model)} WHERE id IN ({', '.join(['%s'] * len(chunk))}) ORDER BY id{_for_update()}",
                chunk,
            )
    _update_from_values(model, (column,), [(i, deltas[i]) for i in ids], increment=True)


# --- movie metadata -------------------------------------------------------------------------------


def movie_create(*, title: str, slug: str, duration: int | None = None) -> Movie:
    if Movie.objects.filter(slug=slug).exists():
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409)
    try:
        with transaction.atomic():
            return Movie.objects.create(title=title, slug=slug, duration=duration)
    except IntegrityError:
        raise DomainError("conflict", f"A movie with slug {slug!r} already exists.", status=409) from None


def movie_update(*, movie: Movie, **changes) -> Movie:
    if "slug" in changes and Movie.objects.filter(slug=changes["slug"]).exclude(pk=movie.pk).exists():
        raise DomainError("conflict", f"A movie with slug {changes['slug']!r} already exists.", status=409)
    for name, value in changes.items():
        setattr(movie, name, value)
    movie.save(update_fields=list(changes))
    return movie


@transaction.atomic
def movie_delete(*, movie: Movie) -> None:
    """Delete a movie with its events and subtract its watch time from its viewers' totals."""
    # Same lock order as events_apply: streams, watch times, users.
    _lock_ids(Stream.objects.filter(movie=movie))
    watch_times = WatchTime.objects.filter(id__in=_lock_ids(WatchTime.objects.filter(movie=movie)))
    _increment_locked(CustomUser, "total_watch_time", {wt.user_id: -wt.total for wt in watch_times})
    movie.delete()


# --- recomputation ------------------------------------------------------------------------------


@transaction.atomic
def totals_recompute(*, limits: Limits | None = None, chunk_size: int = 1000) -> int:
    """Rebuild every stored total from the event log; returns the number of streams.

    Run with the consumers stopped (scaled to zero): batches applied meanwhile would be
    overwritten by totals computed before them.
    """
    from watchtime.events.selectors import ExpectedTotals, _add_to_pairs, streams_recomputed

    limits = limits or limits_from_settings()
    expected = ExpectedTotals()
    Stream.objects.update(total=0, head=None)
    stream_rows = []  # (id, total, head id), written a chunk at a time: memory stays bounded
    count = 0
    for stream in streams_recomputed(limits=limits):
        count += 1
        _add_to_pairs(expected, stream)
        stream_rows.append((stream.stream_id, stream.total, stream.head_id))
        if len(stream_rows) >= chunk_size:
            _update_from_values(Stream, ("total", "head_id"), stream_rows)
            stream_rows = []
    _update_from_values(Stream, ("total", "head_id"), stream_rows)

    WatchTime.objects.update(total=0, last_moment=0, last_event=None)
    by_pair = {(u, m): pk for pk, u, m in WatchTime.objects.values_list("id", "user_id", "movie_id")}
    watch_time_rows = []  # (id, total, last_event id, last_moment)
    for (user_id, movie_id), (total, _key, head_id, head_at) in expected.pairs.items():
        if (user_id, movie_id) not in by_pair:
            by_pair[(user_id, movie_id)] = WatchTime.objects.create(user_id=user_id, movie_id=movie_id).pk
        watch_time_rows.append((by_pair[(user_id, movie_id)], total, head_id, head_at))
    _update_from_values(WatchTime, ("total", "last_event_id", "last_moment"), watch_time_rows)

    CustomUser.objects.update(total_watch_time=0)
    Movie.objects.update(total_watch_time=0)
    for model, sums in ((CustomUser, expected.users), (Movie, expected.movies)):
        _update_from_values(model, ("total_watch_time",), list(sums.items()))
    return count
