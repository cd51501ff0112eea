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
from collections.abc import Iterable
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
    distinct: dict[UUID, EventIn] = {}
    for event in events:
        distinct.setdefault(event.event_id, event)
    result = ApplyResult(duplicates=len(events) - len(distinct))

    user_ids = _ensure_named(CustomUser, "username", {e.user for e in distinct.values()})
    movie_ids = _ensure_named(Movie, "slug", {e.slug for e in distinct.values()})
    streams = _lock_streams({(user_ids[e.user], movie_ids[e.slug], e.session) for e in distinct.values()})
    streams_by_id = {s.id: s for s in streams.values()}

    # Under the stream locks no other batch can add events to these streams.
    stored = set(Event.objects.filter(event_id__in=list(distinct)).values_list("event_id", flat=True))
    new = sorted((e for e in distinct.values() if e.event_id not in stored), key=lambda e: e.event_id)
    result.duplicates += len(stored)
    if not new:
        return result

    rows = []
    for e in new:
        hb = e.heartbeat()
        user_id, movie_id = user_ids[e.user], movie_ids[e.slug]
        rows.append(
            Event(
                event_id=e.event_id,
                stream_id=streams[(user_id, movie_id, e.session)].id,
                user_id=user_id,
                movie_id=movie_id,
                at=e.at,
                session=e.session,
                ts=e.ts,
                received_at=e.received_at,
                ts_us=hb.ts_us,
                sort_us=hb.key[0],
            )
        )
    new_by_stream: dict[int, list[Event]] = defaultdict(list)
    for row in rows:
        new_by_stream[row.stream_id].append(row)
    for new_rows in new_by_stream.values():
        new_rows.sort(key=_event_key)
    # Read before inserting, so the tails hold only events of earlier batches.
    tails = {sid: _stored_tail(streams_by_id[sid], new_rows[0]) for sid, new_rows in new_by_stream.items()}
    Event.objects.bulk_create(rows)

    stream_updates: dict[int, tuple[int, int]] = {}  # stream id -> (delta, new head id)
    pair_updates: dict[tuple[int, int], list] = {}  # (user, movie) -> [delta, newest Event]
    for stream_id, new_rows in new_by_stream.items():
        stream = streams_by_id[stream_id]
        delta = accounting.added_credit(
            [_heartbeat(r) for r in tails[stream_id]], [_heartbeat(r) for r in new_rows], limits
        )
        head = new_rows[-1] if stream.head is None or _event_key(new_rows[-1]) > _event_key(stream.head) else stream.head
        stream_updates[stream.id] = (delta, head.id)
        pair = pair_updates.setdefault((stream.user_id, stream.movie_id), [0, None])
        pair[0] += delta
        if pair[1] is None or _event_key(new_rows[-1]) > _event_key(pair[1]):
            pair[1] = new_rows[-1]

    _update_by_id(
        Stream,
        {sid: {"total": ("+", delta), "head_id": ("=", head_id)} for sid, (delta, head_id) in stream_updates.items()},
    )

    watch_times = _lock_watch_times(set(pair_updates))
    user_deltas: dict[int, int] = defaultdict(int)
    movie_deltas: dict[int, int] = defaultdict(int)
    wt_updates = {}
    for (user_id, movie_id), (delta, newest) in pair_updates.items():
        wt = watch_times[(user_id, movie_id)]
        change = {"total": ("+", delta)}
        if wt.last_event is None or _event_key(newest) > _event_key(wt.last_event):
            change["last_event_id"] = ("=", newest.id)
            change["last_moment"] = ("=", newest.at)
        wt_updates[wt.id] = change
        user_deltas[user_id] += delta
        movie_deltas[movie_id] += delta
    _update_by_id(WatchTime, wt_updates)
    _increment_locked(CustomUser, "total_watch_time", user_deltas)
    _increment_locked(Movie, "total_watch_time", movie_deltas)

    result.applied = new
    return result


def _event_key(row: Event) -> tuple[int, int, UUID]:
    return (row.sort_us, row.at, row.event_id)


def _heartbeat(row: Event) -> Heartbeat:
    return Heartbeat(event_id=row.event_id, at=row.at, ts_us=row.ts_us, received_us=row.sort_us)


def _stored_tail(stream: Stream, earliest_new: Event) -> list[Event]:
    """The stream's stored events from the predecessor of `earliest_new` to the end, by key."""
    if stream.head is None:
        return []
    if _event_key(earliest_new) > _event_key(stream.head):  # the common case: in order
        return [stream.head]
    sort_us, at, event_id = _event_key(earliest_new)
    before = Q(sort_us__lt=sort_us) | Q(sort_us=sort_us, at__lt=at) | Q(sort_us=sort_us, at=at, event_id__lt=event_id)
    stored = Event.objects.filter(stream_id=stream.id)
    predecessor = stored.filter(before).order_by("-sort_us", "-at", "-event_id").first()
    later = sorted(stored.exclude(before), key=_event_key)
    return later if predecessor is None else [predecessor, *later]


def _ensure_named(model, field_name: str, names: set[str]) -> dict[str, int]:
    """Ids of the rows named `names`, creating the missing ones (sorted, to keep lock order)."""
    ids = dict(model.objects.filter(**{f"{field_name}__in": names}).values_list(field_name, "id"))
    missing = sorted(names - ids.keys())
    if missing:
        extra = {"password": UNUSABLE_PASSWORD} if model is CustomUser else {}
        if model is Movie:
            objs = [Movie(slug=name, title=name) for name in missing]
        else:
            objs = [model(**{field_name: name}, **extra) for name in missing]
        model.objects.bulk_create(objs, ignore_conflicts=True)
        ids.update(model.objects.filter(**{f"{field_name}__in": missing}).values_list(field_name, "id"))
    return ids


def _lock_streams(keys: set[tuple[int, int, str]]) -> dict[tuple[int, int, str], Stream]:
    Stream.objects.bulk_create(
        [Stream(user_id=u, movie_id=m, session=s) for u, m, s in sorted(keys)], ignore_conflicts=True
    )
    ids = _lock_ids(Stream.objects.filter(_any_of(("user_id", "movie_id", "session"), keys)))
    locked = Stream.objects.select_related("head").filter(id__in=ids)
    return {(s.user_id, s.movie_id, s.session): s for s in locked}


def _lock_watch_times(keys: set[tuple[int, int]]) -> dict[tuple[int, int], WatchTime]:
    WatchTime.objects.bulk_create([WatchTime(user_id=u, movie_id=m) for u, m in sorted(keys)], ignore_conflicts=True)
    ids = _lock_ids(WatchTime.objects.filter(_any_of(("user_id", "movie_id"), keys)))
    locked = WatchTime.objects.select_related("last_event").filter(id__in=ids)
    return {(wt.user_id, wt.movie_id): wt for wt in locked}


def _lock_ids(rows) -> list[int]:
    """Lock `rows` in id order and return their ids.

    Read the locked rows with a *separate* query afterwards: under READ COMMITTED a statement
    that waited for a lock sees the locked row's new version but not rows another batch
    inserted meanwhile (its new head event), so a join in the locking statement can be stale.
    """
    return list(rows.select_for_update().order_by("id").values_list("id", flat=True))


def _any_of(fields: tuple[str, ...], keys: Iterable[tuple]) -> Q:
    condition = Q()
    for key in keys:
        condition |= Q(**dict(zip(fields, key, strict=True)))
    return condition


def _increment_locked(model, column: str, deltas: dict[int, int]) -> None:
    ids = sorted(i for i, d in deltas.items() if d)
    if not ids:
        return
    _lock_ids(model.objects.filter(id__in=ids))
    _update_by_id(model, {i: {column: ("+", deltas[i])} for i in ids})


def _update_by_id(model, changes: dict[int, dict[str, tuple[str, int]]]) -> None:
    """One UPDATE for many rows: column = column + delta ('+') or = value ('='), integers only.

    Plain CASE expressions keep it one statement on both PostgreSQL and SQLite.
    """
    if not changes:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = sorted({column for change in changes.values() for column in change})
    assignments, params = [], []
    for column in columns:
        quoted = connection.ops.quote_name(column)
        whens = []
        for row_id, change in changes.items():
            if column in change:
                op, value = change[column]
                whens.append(f"WHEN %s THEN {quoted} + %s" if op == "+" else "WHEN %s THEN %s")
                params += [row_id, value]
        assignments.append(f"{quoted} = CASE id {' '.join(whens)} ELSE {quoted} END")
    ids = sorted(changes)
    params += ids
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE id IN ({', '.join(['%s'] * len(ids))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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
    pending: dict[int, dict] = {}
    count = 0
    for stream in streams_recomputed(limits=limits):
        count += 1
        _add_to_pairs(expected, stream)
        pending[stream.stream_id] = {"total": ("=", stream.total), "head_id": ("=", stream.head_id)}
        if len(pending) >= chunk_size:
            _update_by_id(Stream, pending)
            pending = {}
    _update_by_id(Stream, pending)

    WatchTime.objects.update(total=0, last_moment=0, last_event=None)
    by_pair = dict(((u, m), pk) for pk, u, m in WatchTime.objects.values_list("id", "user_id", "movie_id"))
    changes = {}
    for (user_id, movie_id), (total, _key, head_id, head_at) in expected.pairs.items():
        if (user_id, movie_id) not in by_pair:
            WatchTime.objects.create(user_id=user_id, movie_id=movie_id)
            by_pair[(user_id, movie_id)] = WatchTime.objects.get(user_id=user_id, movie_id=movie_id).pk
        changes[by_pair[(user_id, movie_id)]] = {
            "total": ("=", total), "last_event_id": ("=", head_id), "last_moment": ("=", head_at)
        }
        if len(changes) >= chunk_size:
            _update_by_id(WatchTime, changes)
            changes = {}
    _update_by_id(WatchTime, changes)

    CustomUser.objects.update(total_watch_time=0)
    Movie.objects.update(total_watch_time=0)
    for model, sums in ((CustomUser, expected.users), (Movie, expected.movies)):
        items = list(sums.items())
        for start in range(0, len(items), chunk_size):
            _update_by_id(model, {pk: {"total_watch_time": ("=", total)} for pk, total in items[start : start + chunk_size]})
    return count
