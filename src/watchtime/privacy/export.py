"""A user's data as NDJSON (GDPR art. 15): their totals, their watch time per movie, then every
event in the rule's order, streamed from a server-side cursor so memory stays flat whatever
the number of events."""

import json
from collections.abc import Iterator

from watchtime.errors import DomainError
from watchtime.events.models import CustomUser, Event, Stream, WatchTime

CHUNK = 2000


def user_export(*, username: str) -> Iterator[bytes]:
    """Lines of the export; raises DomainError 404 before the first line for an unknown user."""
    user = CustomUser.objects.filter(username=username).values("id", "username", "total_watch_time", "date_joined").first()
    if user is None:
        raise DomainError("not_found", f"No user {username!r}.", status=404)
    return _lines(user)


def _lines(user: dict) -> Iterator[bytes]:
    yield _line({"type": "user", "username": user["username"], "total_watch_time": user["total_watch_time"],
                 "first_seen": user["date_joined"].isoformat()})
    watch_times = WatchTime.objects.filter(user_id=user["id"]).select_related("movie").order_by("movie_id")
    for wt in watch_times.iterator(chunk_size=CHUNK):
        yield _line({"type": "watch_time", "movie": wt.movie_id, "slug": wt.movie.slug, "title": wt.movie.title,
                     "total_watch_time": wt.total, "last_moment": wt.last_moment})
    streams = Stream.objects.filter(user_id=user["id"]).values("id")  # the log keeps no index by user
    events = (Event.objects.filter(stream__in=streams).select_related("movie")
              .order_by("sort_us", "at", "event_id")
              .values_list("event_id", "movie__slug", "at", "session", "ts", "received_at"))
    for event_id, slug, at, session, ts, received_at in events.iterator(chunk_size=CHUNK):
        yield _line({"type": "event", "event_id": str(event_id), "user": user["username"], "slug": slug, "at": at,
                     "session": session, "ts": _time(ts), "received_at": _time(received_at)})


def _time(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _line(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"
