"""Heartbeat workloads: broker messages for the consumer and the large read dataset.

Events follow real players: every stream (user, movie, session) sends a heartbeat each 10 s
of playback, in order, with its wall clock, so each adjacent pair earns 10 s under the rule.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

from watchtime.events.messages import FORMAT_VERSION

BASE = datetime(2026, 1, 1, tzinfo=UTC)
STEP_SECONDS = 10
EVENTS_PER_STREAM = 10  # in the read dataset
STREAMS_PER_USER = 10
MOVIES = 1000
MOVIE_STRIDE = 97  # coprime with MOVIES: a user's STREAMS_PER_USER streams get distinct movies
MOVIE_DURATION = 600  # s: a read-dataset stream covers its first 90 s
SPREAD_HOURS = 30 * 24  # read-dataset streams start over 30 days (each within one hour)
START_STRIDE = 31  # coprime with SPREAD_HOURS: stream i starts in hour (i * 31) % 720, ids next to each other a day apart


def stream_names(index: int) -> tuple[str, str, str]:
    user = index // STREAMS_PER_USER
    return f"user{user}", f"movie-{(index * MOVIE_STRIDE + user) % MOVIES}", "s"


class Steps:
    """Hands out playback steps so every workload continues its streams in order."""

    def __init__(self):
        self.next = 0

    def take(self, count: int, streams: int) -> int:
        first = self.next
        self.next += -(-count // streams)
        return first


PREMIERE = "movie-premiere"


def premiere_names(index: int) -> tuple[str, str, str]:
    """Stream `index` of the premiere: its own user, all on one movie."""
    return f"user{index}", PREMIERE, "s"


def events(count: int, *, streams: int, first_step: int, first_stream: int = 0, premiere: bool = False) -> list[dict]:
    """`count` message events spread round-robin over `streams` streams, from `first_step` on;
    with `premiere`, every stream on the same movie."""
    names = premiere_names if premiere else stream_names
    out = []
    for j in range(count):
        user, slug, session = names(first_stream + j % streams)
        position = (first_step + j // streams) * STEP_SECONDS
        ts = (BASE + timedelta(seconds=position)).isoformat()
        out.append(
            {
                "event_id": str(uuid.uuid4()),
                "user": user,
                "slug": slug,
                "at": position % 86400,
                "session": session,
                "ts": ts,
                "received_at": ts,
            }
        )
    return out


def message(batch: list[dict]) -> bytes:
    """A broker message body in the product's format (events.messages), built from plain dicts:
    a backlog of a million events is encoded faster this way than through EventIn."""
    return json.dumps({"v": FORMAT_VERSION, "events": batch}, separators=(",", ":")).encode()


def messages(count: int, *, per_message: int, streams: int, steps: Steps, premiere: bool = False) -> list[bytes]:
    evts = events(count, streams=streams, first_step=steps.take(count, streams), premiere=premiere)
    return [message(evts[i : i + per_message]) for i in range(0, count, per_message)]


# Streams of the API loads: their events carry no `ts`, so they are keyed by the wall clock and
# would put any stream they share with the other workloads (keyed from BASE) out of order.
CLIENT_FIRST_STREAM = 2_000_000


def client_batch(size: int, *, offset: int) -> bytes:
    """A POST / body: `size` client events (no event_id: the API assigns them)."""
    body = []
    for j in range(size):
        user, slug, session = stream_names(CLIENT_FIRST_STREAM + (offset + j) % 5000)
        body.append({"user": user, "slug": slug, "at": (j // 5000) * STEP_SECONDS, "session": session})
    return json.dumps(body, separators=(",", ":")).encode()


def build_read_dataset(conn, total_events: int) -> dict:
    """Fill the tables set-based (generate_series), with totals exactly as the rule gives them.

    Each stream holds EVENTS_PER_STREAM in-order heartbeats STEP_SECONDS apart, with wall
    clocks, so each stream's total is (EVENTS_PER_STREAM - 1) * STEP_SECONDS; the watch-time,
    user and movie totals are sums over streams, and heads point at each stream's last event.
    Streams start spread over SPREAD_HOURS from BASE (a minute into an hour, so each stays
    within it), so the analytics ranges hold a month of buckets. The analytics rows are derived
    afterwards by `derive_analytics` (the product's own recompute).
    """
    streams = total_events // EVENTS_PER_STREAM
    users = -(-streams // STREAMS_PER_USER)
    stream_total = (EVENTS_PER_STREAM - 1) * STEP_SECONDS
    base_us = int(BASE.timestamp()) * 1_000_000
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO events_customuser (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, total_watch_time)"
            " SELECT '!', false, 'user' || g, '', '', '', false, true, now(), 0 FROM generate_series(0, %s) g",
            [users - 1],
        )
        cur.execute(
            "INSERT INTO events_movie (title, slug, duration, total_watch_time)"
            " SELECT 'movie-' || g, 'movie-' || g, %s, 0 FROM generate_series(0, %s) g",
            [MOVIE_DURATION, MOVIES - 1],
        )
        cur.execute(
            "INSERT INTO events_stream (user_id, movie_id, session, total, head_id)"
            " SELECT u.id, m.id, 's', %s, NULL FROM generate_series(0, %s) i"
            " JOIN events_customuser u ON u.username = 'user' || (i / %s)"
            " JOIN events_movie m ON m.slug = 'movie-' || ((i * %s + i / %s) %% %s)",
            [stream_total, streams - 1, STREAMS_PER_USER, MOVIE_STRIDE, STREAMS_PER_USER, MOVIES],
        )
        cur.execute(
            "INSERT INTO events_eventlog (event_id, stream_id, user_id, movie_id, at, session, ts, received_at, ts_us, sort_us)"
            " SELECT md5(s.id || '-' || j)::uuid, s.id, s.user_id, s.movie_id, j * %(step)s, 's',"
            "  to_timestamp(t.us / 1e6), to_timestamp(t.us / 1e6), t.us, t.us"
            " FROM events_stream s CROSS JOIN generate_series(0, %(last)s) j"
            " CROSS JOIN LATERAL (SELECT %(base)s + ((s.id * %(mult)s) %% %(hours)s) * 3600000000::bigint"
            "  + %(minute)s + j * %(step)s * 1000000::bigint AS us) t ORDER BY s.id, j",
            {"step": STEP_SECONDS, "base": base_us, "last": EVENTS_PER_STREAM - 1, "mult": START_STRIDE,
             "hours": SPREAD_HOURS, "minute": 60_000_000},
        )
        cur.execute(
            "UPDATE events_stream s SET head_id = e.id, head_key_us = e.sort_us FROM events_eventlog e"
            " WHERE e.stream_id = s.id AND e.at = %s",
            [(EVENTS_PER_STREAM - 1) * STEP_SECONDS],
        )
        cur.execute(
            "INSERT INTO events_watchtime (user_id, movie_id, total, last_moment, last_event_id)"
            " SELECT user_id, movie_id, total, %s, head_id FROM events_stream",
            [(EVENTS_PER_STREAM - 1) * STEP_SECONDS],
        )
        cur.execute(
            "UPDATE events_customuser u SET total_watch_time = t.total"
            " FROM (SELECT user_id, sum(total) AS total FROM events_stream GROUP BY user_id) t WHERE t.user_id = u.id"
        )
        cur.execute(
            "UPDATE events_movie m SET total_watch_time = t.total"
            " FROM (SELECT movie_id, sum(total) AS total FROM events_stream GROUP BY movie_id) t WHERE t.movie_id = m.id"
        )
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM events_eventlog")
        (count,) = cur.fetchone()
    return {"events": count, "streams": streams, "users": users, "movies": MOVIES}


def derive_analytics() -> int:
    """Every analytics row (rollups, views, coverage, retention) from the event log, by the
    product's recompute (`watchtime.accounting.audit.analytics.analytics_recompute`, the reference the
    tests check the apply path against), so they are exactly what the rule gives. Needs Django."""
    from watchtime.accounting.audit.analytics import analytics_recompute
    from watchtime.definitions import definitions_from_settings, limits_from_settings

    return analytics_recompute(limits=limits_from_settings(), definitions=definitions_from_settings())
