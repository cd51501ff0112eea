"""Reads. Totals are stored, so each total read is one indexed row."""

import re
from dataclasses import dataclass

from django.db import NotSupportedError
from django.db.models import QuerySet

from watchtime.db import router
from watchtime.errors import DomainError
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
    connection = router.read_connection()  # the replica inside the read views, else the primary
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})"
            _prepare_once(connection, cursor, name, sql)
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
                _prepare_once(connection, cursor, name, sql)
                cursor.execute(execute, params)
        else:
            cursor.execute(sql, params)
        return cursor.fetchone()


def _prepare_once(connection, cursor, name: str, sql: str) -> None:
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
    # Through the streams: the log keeps no index by user or by movie (models.Event).
    if user:
        events = events.filter(stream__in=Stream.objects.filter(user__username=user).values("id"))
    if slug:
        events = events.filter(stream__in=Stream.objects.filter(movie__slug=slug).values("id"))
    return events
