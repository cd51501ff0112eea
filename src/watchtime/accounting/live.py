"""The live count's state (analytics.models.LiveStream): the apply path's one upsert per stream per
batch, and the deletes of erasure and `maintain` (a movie's deletion deletes its rows with its other
figures: accounting.catalogue).

A stream's row describes its newest heartbeat by key: when the server received it and whether the
pair it closed earned credit. The apply path derives both under the stream's lock from the merged
heartbeats it already holds, so a late heartbeat with an older key never moves the row's newest.
"""

from dataclasses import dataclass

from django.db import connection

from watchtime.analytics.models import LiveStream
from watchtime.db import bulk_sql
from watchtime.events.models import Stream
from watchtime.rule.attribution import PairChanges

# `maintain` keeps rows this long past the window, so clocks of hosts that disagree by less never
# make it delete a row a reader still counts.
EXPIRY_MARGIN_US = 600 * 1_000_000


@dataclass(frozen=True)
class LiveChange:
    stream_id: int
    movie_id: int
    changes: PairChanges


def write(changed: list[LiveChange], received_us: dict) -> None:
    """`received_us`: event id -> receive time of this batch's new heartbeats.

    A new newest heartbeat replaces the row (received, credited); a late heartbeat that lands just
    before the stored newest changes the pair it closes, so only `credited` (a row maintain has
    already expired stays absent: it is past the window either way)."""
    upserts, credited_only = [], []
    for item in changed:
        newest = item.changes.merged[-1]
        closing = next((p for p in item.changes.added if p.b.event_id == newest.event_id), None)
        credited = closing is not None and closing.credit > 0
        if newest.event_id in received_us:
            upserts.append((item.stream_id, item.movie_id, received_us[newest.event_id], credited))
        elif closing is not None:
            credited_only.append((item.stream_id, credited))
    name = bulk_sql.table(LiveStream)
    row = "(%s, %s, %s, %s)"
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(upserts)):
            cursor.execute(
                f"INSERT INTO {name} (stream_id, movie_id, received_us, credited) VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (stream_id) DO UPDATE SET received_us = excluded.received_us, credited = excluded.credited",
                [value for r in chunk for value in r],
            )
        for stream_id, credited in sorted(credited_only):  # rare (late heartbeats): a statement each
            cursor.execute(f"UPDATE {name} SET credited = %s WHERE stream_id = %s", [credited, stream_id])


def user_forget(user_id: int) -> None:
    """Erasure: the user's streams leave the live count (before the streams themselves go)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {bulk_sql.table(LiveStream)} WHERE stream_id IN "
                       f"(SELECT id FROM {bulk_sql.table(Stream)} WHERE user_id = %s)", [user_id])


def expire(*, now_us: int, window_seconds: int) -> int:
    """Delete rows received long before the window (`maintain`); how many went.

    It takes no stream lock, so it skips the rows a batch holds (that batch is refreshing them)
    instead of waiting for them: waiting while the batch waits for a row it holds could deadlock."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    name = bulk_sql.table(LiveStream)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {name} WHERE stream_id IN (SELECT stream_id FROM {name} WHERE received_us < %s"
                       f"{skip_locked})", [now_us - window_seconds * 1_000_000 - EXPIRY_MARGIN_US])
        return cursor.rowcount
