"""The one lock order of every write that moves a figure, and the functions that take it.

Rows are locked table by table in this order, and within a table in ascending id (rows found by
key: looked up in sorted key order, locked in id order), so concurrent writers queue behind each
other instead of deadlocking:

    1. streams  2. watch times  3. users  4. movies  5. the overall quarter rows

A writer takes some of these levels, never one after a later one. The user-movie rollup rows are
written under the watch-time locks, the per-user rows under the user locks, the per-movie rows
under the movie locks; the overall Quarter and QuarterReach rows are locked by their own upserts, last
(rollups.write). SQLite locks the whole database at BEGIN instead (IMMEDIATE transactions).

One function per set of locks a writer takes; which writer calls it is in its docstring.
"""

from django.db.models import QuerySet

from watchtime.db import bulk_sql
from watchtime.events.models import CustomUser, Movie, Stream, WatchTime


class UserErased(Exception):
    """A user of the batch was erased while the batch waited for its lock: apply it again, and
    the erasure refuses the user's events (privacy.tombstones)."""


def batch_streams(keys: set[tuple[int, int, str]]) -> dict[tuple[int, int, str], int]:
    """Level 1 for an apply batch (apply): its streams by (user, movie, session), created where
    missing; key -> id."""
    return bulk_sql.lock_keyed(Stream, ("user_id", "movie_id", "session"), keys)


def batch_watch_times(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Level 2 for an apply batch (apply): its watch times by (user, movie), created where
    missing; pair -> id. A user-movie seen for the first time has no events before this batch:
    its analytics are exact from here on."""
    return bulk_sql.lock_keyed(WatchTime, ("user_id", "movie_id"), pairs, created={"analytics_ready": True})


def fold_streams(stream_ids: list[int]) -> tuple[dict[int, Stream], dict[tuple[int, int], WatchTime]]:
    """Levels 1-2 for a prune's fold (retention): these streams, and the watch times of their
    users and movies; (stream id -> stream, (user, movie) -> watch time)."""
    streams = {s.id: s for s in Stream.objects.select_for_update().filter(id__in=stream_ids).order_by("id")}
    pairs = sorted({(s.user_id, s.movie_id) for s in streams.values()})
    watch_times = {(w.user_id, w.movie_id): w for w in WatchTime.objects.select_for_update().filter(
        user_id__in={u for u, _ in pairs}, movie_id__in={m for _, m in pairs}).order_by("id")}
    return streams, watch_times


def pair(user_id: int, movie_id: int, columns: tuple[str, ...]) -> tuple | None:
    """Levels 1-2 for rebuilding one user-movie (rebuild): its streams and its watch time; the
    watch time's `columns`, or None without one."""
    bulk_sql.lock_ids(Stream.objects.filter(user_id=user_id, movie_id=movie_id))
    return WatchTime.objects.select_for_update().filter(user_id=user_id, movie_id=movie_id).values_list(*columns).first()


def movie_pairs(movie_id: int) -> dict[tuple[int, int], int]:
    """Levels 1-2 for deleting a movie (catalogue): every stream and watch time of the movie;
    (user, movie) -> the watch time's total."""
    return _pairs(Stream.objects.filter(movie_id=movie_id), WatchTime.objects.filter(movie_id=movie_id))


def user_pairs(user_id: int) -> dict[tuple[int, int], int]:
    """Levels 1-2 for erasing a user (erasure): every stream and watch time of the user;
    (user, movie) -> the watch time's total."""
    return _pairs(Stream.objects.filter(user_id=user_id), WatchTime.objects.filter(user_id=user_id))


def _pairs(streams: QuerySet, watch_times: QuerySet) -> dict[tuple[int, int], int]:
    bulk_sql.lock_ids(streams)
    rows = watch_times.select_for_update().order_by("id").values_list("user_id", "movie_id", "total")
    return {(user_id, movie_id): total for user_id, movie_id, total in rows}


def users(ids: set[int]) -> None:
    """Level 3 for every write of rollups (rollups.write: apply, rebuild, catalogue, erasure);
    raises UserErased where one of them is gone."""
    if missing := ids - bulk_sql.lock_by_id(CustomUser, ids):
        raise UserErased(f"users {sorted(missing)} were erased while this batch waited for them")


def movies(ids) -> None:
    """Level 4 for every write of rollups (rollups.write), and for a movie's duration change
    (catalogue), which restates its completions under the same lock."""
    bulk_sql.lock_by_id(Movie, ids)
