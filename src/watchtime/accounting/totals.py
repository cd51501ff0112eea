"""The user and movie totals (each user's and movie's watch time, each movie's viewers): the one
place they are adjusted, by deltas, under the locks the caller holds (locks.users, locks.movies).

Every writer that moves them (an apply batch, a rebuild, a movie's deletion, an erasure) hands its
deltas to rollups.write, which calls these; `recompute` rebuilds them from the log (audit.totals).
"""

from watchtime.db import bulk_sql
from watchtime.events.models import CustomUser, Movie


def add_to_users(watch_time: dict[int, int]) -> None:
    """Add user id -> delta to the users' total watch time (locked by the caller)."""
    bulk_sql.update_from_values(CustomUser, ("total_watch_time",), [(u, d) for u, d in watch_time.items() if d],
                                increment=True)


def add_to_movies(watch_time: dict[int, int], viewers: dict[int, int]) -> None:
    """Add movie id -> delta to the movies' total watch time and viewers (locked by the caller)."""
    rows = [(m, watch_time.get(m, 0), viewers.get(m, 0)) for m in {*watch_time, *viewers}]
    bulk_sql.update_from_values(Movie, ("total_watch_time", "viewers"), [r for r in rows if r[1] or r[2]], increment=True)
