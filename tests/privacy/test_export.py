"""Export: NDJSON of the user's totals, watch times and every event in the rule's order, streamed
with memory that does not grow with the number of events."""

import json
import tracemalloc
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from watchtime.accounting.apply import events_apply
from watchtime.events.models import CustomUser
from watchtime.events.validation import EventIn
from watchtime.privacy.export import user_export

pytestmark = pytest.mark.django_db


def test_export_shape_and_order(client_all, make_client):
    now = timezone.now()
    t = now - timedelta(hours=1)
    same_ts = t + timedelta(seconds=20)
    ids = sorted(uuid.uuid4() for _ in range(2))
    events = [
        EventIn(uuid.uuid4(), "erin", "heat", 0, "a", t, now),
        EventIn(uuid.uuid4(), "erin", "heat", 10, "a", t + timedelta(seconds=10), now),
        EventIn(ids[1], "erin", "ran", 5, "", same_ts, now),  # same key time and position: by event_id
        EventIn(ids[0], "erin", "ran", 5, "", same_ts, now),
        EventIn(uuid.uuid4(), "erin", "ran", 4, "", same_ts, now),  # same key time: by position first
        EventIn(uuid.uuid4(), "erin", "heat", 30, "b", None, now - timedelta(minutes=30)),  # no ts: received_at
        EventIn(uuid.uuid4(), "frank", "heat", 0, "", t, now),
    ]
    events_apply(events=events)
    assert make_client("read").get("/users/erin/export/").status_code == 403
    response = client_all.get("/users/erin/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    # heat a: 0->10 credits 10; ran: 4->5 at the same wall clock credits min(1, 0 + 1) = 1.
    assert lines[0] == {"type": "user", "username": "erin", "total_watch_time": 11, "first_seen": lines[0]["first_seen"]}
    assert [(x["type"], x["slug"], x["total_watch_time"]) for x in lines[1:3]] == [("watch_time", "heat", 10), ("watch_time", "ran", 1)]
    exported = [x for x in lines if x["type"] == "event"]
    assert [(x["slug"], x["at"]) for x in exported] == [("heat", 0), ("heat", 10), ("ran", 4), ("ran", 5), ("ran", 5), ("heat", 30)]
    assert [x["event_id"] for x in exported[3:5]] == [str(ids[0]), str(ids[1])]
    assert set(exported[0]) == {"type", "event_id", "user", "slug", "at", "session", "ts", "received_at"}
    assert exported[-1]["ts"] is None and all(x["user"] == "erin" for x in exported)
    assert client_all.get("/users/nobody/export/").status_code == 404


def _many_events(username: str, count: int) -> None:
    """`count` events of one user inserted set-based (the export reads them, the rule does not matter)."""
    user = CustomUser.objects.create(username=username, password="!")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO events_movie (title, slug, duration, total_watch_time, viewers) VALUES ('m', %s, NULL, 0, 0)"
                       " RETURNING id", [f"m-{username}"])
        (movie,) = cursor.fetchone()
        cursor.execute("INSERT INTO events_stream (user_id, movie_id, session, total, folded_total, anchor_view_watch_time,"
                       " anchor_view_furthest) VALUES (%s, %s, '', 0, 0, 0, 0) RETURNING id", [user.id, movie])
        (stream,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO events_eventlog (event_id, stream_id, user_id, movie_id, at, session, ts, received_at, ts_us, sort_us, rolled_up)"
            " SELECT md5(%s || g)::uuid, %s, %s, %s, g %% 86400, '', now(), now(), 0, 1700000000000000 + g, true"
            " FROM generate_series(1, %s) g", [username, stream, user.id, movie, count])


def _peak_bytes(username: str) -> tuple[int, int]:
    tracemalloc.start()
    lines = 0
    for _ in user_export(username=username):
        lines += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return lines, peak


def test_export_memory_does_not_grow_with_the_number_of_events():
    """A server-side cursor: the peak of Python allocations while exporting 60,000 events is
    about that of 6,000 (a list of them would take ten times as much)."""
    _many_events("small", 6_000)
    _many_events("large", 60_000)
    small_lines, small_peak = _peak_bytes("small")
    large_lines, large_peak = _peak_bytes("large")
    assert (small_lines, large_lines) == (6_001, 60_001)  # the user line and the events (no watch time rows)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
