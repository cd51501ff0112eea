"""The live state against the event log: `verify` reports drift, `recompute` rebuilds.

A stream's row must say what its events give: when its newest heartbeat by key was received and
whether the pair that heartbeat closed earned credit. Rows are expected for the streams with an
event received since `maintain`'s expiry (older rows count for nothing and may be gone); every
stored row is checked against its stream's events, wherever it came from. A stream a prune
folded whole (no kept events, an anchor) keeps its row unchecked: its newest heartbeat's receive
time went with the log.
"""

from datetime import UTC

from django.db import connection
from django.utils.dateparse import parse_datetime

from watchtime.accounting.live import EXPIRY_MARGIN_US
from watchtime.analytics.models import LiveStream
from watchtime.db import bulk_sql
from watchtime.events.models import Event, Stream
from watchtime.rule.credit import Heartbeat, Limits, credit
from watchtime.timestamps import from_us, to_us

LIMIT = 1000  # drift lines reported


FOLDED = "folded"  # expected_rows' value for a stream a prune folded whole


def expected_rows(*, now_us: int, window_seconds: int, limits: Limits) -> dict[int, tuple[int, int, bool] | str | None]:
    """stream id -> (movie id, received_us, credited) from the log, for the streams with a stored row
    or an event received since the expiry; FOLDED for a stream a prune folded whole; None for one
    that is gone or has no events (a row of it is an orphan)."""
    cutoff_us = now_us - window_seconds * 1_000_000 - EXPIRY_MARGIN_US
    log, streams = bulk_sql.table(Event), bulk_sql.table(Stream)
    with connection.cursor() as cursor:
        # received_at is indexed (eventlog_received_idx); compared as a datetime, not microseconds.
        cursor.execute(f"SELECT DISTINCT stream_id FROM {log} WHERE received_at >= %s",
                       [Event._meta.get_field("received_at").get_db_prep_value(from_us(cutoff_us), connection)])
        candidates = {row[0] for row in cursor.fetchall()} | set(LiveStream.objects.values_list("stream_id", flat=True))
        newest: dict[int, list] = {}
        for chunk in bulk_sql.chunks(sorted(candidates)):
            cursor.execute(
                f"SELECT stream_id, event_id, at, ts_us, sort_us, received_at FROM (SELECT stream_id, event_id, at, ts_us,"
                f" sort_us, received_at, row_number() OVER (PARTITION BY stream_id ORDER BY sort_us DESC, at DESC,"
                f" event_id DESC) AS n FROM {log} WHERE stream_id IN ({bulk_sql.placeholders(len(chunk))})) e WHERE n <= 2",
                chunk,
            )
            for stream_id, event_id, at, ts_us, sort_us, received_at in cursor.fetchall():
                hb = Heartbeat(event_id=bulk_sql.as_uuid(event_id), at=at, ts_us=ts_us, key_us=sort_us)
                newest.setdefault(stream_id, []).append((hb, received_at))
        anchors = {}
        for chunk in bulk_sql.chunks(sorted(candidates)):
            cursor.execute(f"SELECT id, movie_id, anchor_event_id, anchor_at, anchor_ts_us, anchor_key_us FROM {streams}"
                           f" WHERE id IN ({bulk_sql.placeholders(len(chunk))})", chunk)
            anchors.update((row[0], row[1:]) for row in cursor.fetchall())
    out: dict[int, tuple[int, int, bool] | str | None] = {}
    for stream_id in candidates:
        kept = sorted(newest.get(stream_id, []), key=lambda item: item[0].key)
        if stream_id not in anchors:
            out[stream_id] = None
            continue
        movie_id, anchor_id, anchor_at, anchor_ts_us, anchor_key_us = anchors[stream_id]
        if not kept:
            out[stream_id] = FOLDED if anchor_key_us is not None else None
            continue
        (last, received_at), previous = kept[-1], (kept[-2][0] if len(kept) > 1 else None)
        if previous is None and anchor_key_us is not None:  # the pair closing the first kept event starts at the anchor
            previous = Heartbeat(event_id=bulk_sql.as_uuid(anchor_id), at=anchor_at, ts_us=anchor_ts_us, key_us=anchor_key_us)
        out[stream_id] = (movie_id, _to_us(received_at), previous is not None and credit(previous, last, limits) > 0)
    return out


def live_drift(*, now_us: int, window_seconds: int, limits: Limits) -> list[str]:
    want = expected_rows(now_us=now_us, window_seconds=window_seconds, limits=limits)
    stored = {s: (m, r, c) for s, m, r, c in LiveStream.objects.values_list("stream_id", "movie_id", "received_us", "credited")}
    cutoff_us = now_us - window_seconds * 1_000_000 - EXPIRY_MARGIN_US
    out = []
    for stream_id in sorted(want):
        have, expected = stored.get(stream_id), want[stream_id]
        if expected == FOLDED:
            continue
        if expected is None:
            if have is not None:
                out.append(f"live stream {stream_id}: stored {have}, but the stream is gone or has no events")
        elif have is None:
            if expected[1] >= cutoff_us:
                out.append(f"live stream {stream_id}: no row, expected {expected}")
        elif have != expected:
            out.append(f"live stream {stream_id}: stored (movie, received_us, credited) {have}, expected {expected}")
        if len(out) >= LIMIT:
            break
    return out


def live_recompute(*, now_us: int, window_seconds: int, limits: Limits) -> int:
    """Replace every row with what the log gives for the streams received since the expiry (the rows
    of streams a prune folded whole stay: nothing can restate them)."""
    want = expected_rows(now_us=now_us, window_seconds=window_seconds, limits=limits)
    cutoff_us = now_us - window_seconds * 1_000_000 - EXPIRY_MARGIN_US
    rows = sorted((s, *row) for s, row in want.items() if isinstance(row, tuple) and row[1] >= cutoff_us)
    folded = sorted(s for s, row in want.items() if row == FOLDED)
    LiveStream.objects.exclude(stream_id__in=folded).delete()
    bulk_sql.insert_rows(LiveStream, ("stream_id", "movie_id", "received_us", "credited"), rows)
    return len(rows)


def _to_us(received_at) -> int:
    if isinstance(received_at, str):  # SQLite answers a raw query with text, in UTC
        received_at = parse_datetime(received_at)
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return to_us(received_at)
