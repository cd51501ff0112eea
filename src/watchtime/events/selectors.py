"""Reads. Totals are stored, so each total read is one indexed row."""

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import NotSupportedError, connection
from django.db.models import QuerySet

from watchtime.errors import DomainError
from watchtime.events import accounting
from watchtime.events.accounting import Heartbeat, Limits
from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime

# The three total reads are the hot paths (every player and dashboard polls them): one statement
# each, written out (the ORM took longer to build one than PostgreSQL to run it), and prepared
# once per PostgreSQL connection (planning the three-table join took 0.8 ms, running it 0.1 ms).


@dataclass(frozen=True)
class UserTotal:
    username: str
    total_watch_time: int


@dataclass(frozen=True)
class MovieTotal:
    id: int
    title: str
    slug: str
    total_watch_time: int


@dataclass(frozen=True)
class WatchTimeTotal:
    username: str
    movie: int
    slug: str
    total_watch_time: int
    last_moment: int


def _one(name: str, sql: str, params: list) -> tuple | None:
    if any(isinstance(p, int) and not -(2**63) <= p < 2**63 for p in params):
        return None  # no row has such an id, and the drivers refuse the number
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})"
            _prepare_once(cursor, name, sql)
            try:
                cursor.execute(execute, params)
            except NotSupportedError:
                # "cached plan must not change result type": a migration changed a selected
                # column under the running process. Prepare it afresh (autocommit: the error
                # left no transaction behind).
                if not connection.get_autocommit():
                    raise
                cursor.execute(f"DEALLOCATE {name}")
                connection.watchtime_prepared[1].discard(name)
                _prepare_once(cursor, name, sql)
                cursor.execute(execute, params)
        else:
            cursor.execute(sql, params)
        return cursor.fetchone()


def _prepare_once(cursor, name: str, sql: str) -> None:
    """PREPARE `sql` as `name` unless this database connection has it (a reconnect starts over;
    a rollback keeps it)."""
    held = getattr(connection, "watchtime_prepared", None)
    if held is None or held[0] is not connection.connection:
        held = connection.watchtime_prepared = (connection.connection, set())
    if name not in held[1]:
        placeholders = iter(range(1, sql.count("%s") + 1))
        cursor.execute(f"PREPARE {name} AS " + re.sub("%s", lambda _: f"${next(placeholders)}", sql))
        held[1].add(name)


USER_TOTAL_SQL = f"SELECT username, total_watch_time FROM {CustomUser._meta.db_table} WHERE username = %s"
MOVIE_TOTAL_SQL = f"SELECT id, title, slug, total_watch_time FROM {Movie._meta.db_table} WHERE id = %s"
WATCH_TIME_SQL = (
    f"SELECT u.username, m.id, m.slug, w.total, w.last_moment FROM {WatchTime._meta.db_table} w"
    f" JOIN {CustomUser._meta.db_table} u ON u.id = w.user_id JOIN {Movie._meta.db_table} m ON m.id = w.movie_id"
    " WHERE u.username = %s AND w.movie_id = %s"
)


def user_total_get(*, username: str) -> UserTotal:
    row = _one("watchtime_user_total", USER_TOTAL_SQL, [username])
    if row is None:
        raise DomainError("not_found", f"No user {username!r}.", status=404)
    return UserTotal(*row)


def movie_total_get(*, movie_id: int) -> MovieTotal:
    row = _one("watchtime_movie_total", MOVIE_TOTAL_SQL, [movie_id])
    if row is None:
        raise DomainError("not_found", f"No movie with id {movie_id}.", status=404)
    return MovieTotal(*row)


def watch_time_get(*, username: str, movie_id: int) -> WatchTimeTotal:
    row = _one("watchtime_watch_time", WATCH_TIME_SQL, [username, movie_id])
    if row is None:
        raise DomainError("not_found", f"{username!r} has not watched movie {movie_id}.", status=404)
    return WatchTimeTotal(*row)


def movie_get(*, movie_id: int) -> Movie:
    movie = Movie.objects.filter(pk=movie_id).first()
    if movie is None:
        raise DomainError("not_found", f"No movie with id {movie_id}.", status=404)
    return movie


def movie_list(*, slug: str | None = None) -> QuerySet[Movie]:
    movies = Movie.objects.all()
    return movies.filter(slug=slug) if slug else movies


def event_list(*, user: str | None = None, slug: str | None = None) -> QuerySet[Event]:
    events = Event.objects.select_related("user", "movie").only(
        "id", "event_id", "at", "session", "ts", "received_at", "user__username", "movie__slug"
    )
    if user:
        events = events.filter(user__username=user)
    if slug:
        events = events.filter(movie__slug=slug)
    return events


# --- recomputation from the event log -------------------------------------------------------------


@dataclass
class StreamTotals:
    """A stream's expected state, recomputed from its events."""

    stream_id: int
    user_id: int
    movie_id: int
    total: int
    head_id: int | None
    head_key: tuple | None
    head_at: int


@dataclass
class ExpectedTotals:
    pairs: dict[tuple[int, int], list] = field(default_factory=dict)  # -> [total, head_key, head_id, head_at]
    users: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    movies: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def streams_recomputed(*, limits: Limits, chunk_size: int = 5000) -> Iterator[StreamTotals]:
    """Every stream's total and head from the event log, streamed in stream-id order.

    Holds one stream's previous event at a time, so memory does not grow with the log.
    """
    rows = (
        Event.objects.order_by("stream_id", "sort_us", "at", "event_id")
        .values_list("id", "stream_id", "user_id", "movie_id", "event_id", "at", "ts_us", "sort_us")
        .iterator(chunk_size=chunk_size)
    )
    current = None
    previous: Heartbeat | None = None
    for event_pk, stream_id, user_id, movie_id, event_id, at, ts_us, sort_us in rows:
        heartbeat = Heartbeat(event_id=event_id, at=at, ts_us=ts_us, received_us=sort_us)
        if current is None or current.stream_id != stream_id:
            if current is not None:
                yield current
            current = StreamTotals(stream_id, user_id, movie_id, 0, None, None, 0)
            previous = None
        if previous is not None:
            current.total += accounting.credit(previous, heartbeat, limits)
        current.head_id, current.head_key, current.head_at = event_pk, heartbeat.key, at
        previous = heartbeat
    if current is not None:
        yield current


def totals_drift(*, limits: Limits) -> list[str]:
    """Differences between stored totals and totals recomputed from the event log (read-only)."""
    drift: list[str] = []
    expected = ExpectedTotals()
    # The head pointers have no database constraint (see models.EVENT_POINTER): checked here.
    stored_streams = {pk: (total, head) for pk, total, head in Stream.objects.values_list("id", "total", "head_id")}
    seen_streams = set()
    for stream in streams_recomputed(limits=limits):
        seen_streams.add(stream.stream_id)
        _add_to_pairs(expected, stream)
        stored = stored_streams.get(stream.stream_id)
        if stored != (stream.total, stream.head_id):
            drift.append(
                f"stream {stream.stream_id}: stored (total, head) {stored}, expected {(stream.total, stream.head_id)}"
            )
    for stream_id, (total, head) in stored_streams.items():
        if stream_id not in seen_streams and (total, head) != (0, None):
            drift.append(f"stream {stream_id}: stored (total, head) {(total, head)}, expected (0, None)")
    watch_times = WatchTime.objects.values_list("user_id", "movie_id", "total", "last_moment", "last_event_id")
    for user_id, movie_id, total, last_moment, last_event in watch_times:
        want_total, _, want_event, want_moment = expected.pairs.pop((user_id, movie_id), [0, None, None, 0])
        if (total, last_moment, last_event) != (want_total, want_moment, want_event):
            drift.append(
                f"watch time user={user_id} movie={movie_id}: stored (total, last_moment, last_event) "
                f"{(total, last_moment, last_event)}, expected {(want_total, want_moment, want_event)}"
            )
    drift += [f"watch time user={u} movie={m}: missing" for (u, m) in expected.pairs]
    for model, sums, label in ((CustomUser, expected.users, "user"), (Movie, expected.movies, "movie")):
        for pk, total in model.objects.values_list("id", "total_watch_time"):
            if total != sums.get(pk, 0):
                drift.append(f"{label} {pk}: stored total {total}, expected {sums.get(pk, 0)}")
    return drift


def _add_to_pairs(expected: ExpectedTotals, stream: StreamTotals) -> None:
    pair = expected.pairs.setdefault((stream.user_id, stream.movie_id), [0, None, None, 0])
    pair[0] += stream.total
    if pair[1] is None or stream.head_key > pair[1]:
        pair[1], pair[2], pair[3] = stream.head_key, stream.head_id, stream.head_at
    expected.users[stream.user_id] += stream.total
    expected.movies[stream.movie_id] += stream.total
