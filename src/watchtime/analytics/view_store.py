"""Views as stored rows: loading the ones a batch's streams touch, and saving their restatement."""

from collections import defaultdict

from django.db import connection

from watchtime.analytics.models import View as ViewRow
from watchtime.db import bulk_sql
from watchtime.rule.views import View

COLUMNS = ("id", "started_us", "ended_us", "watch_time", "furthest_position")


def _view(row) -> View:
    return View(*row)


def by_ids(ids) -> dict[int, View]:
    """The views with these ids (each in-order stream's last view)."""
    out = {}
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(ids)):
            cursor.execute(
                f"SELECT {', '.join(COLUMNS)} FROM {bulk_sql.table(ViewRow)} WHERE id IN ({bulk_sql.placeholders(len(chunk))})",
                chunk,
            )
            out.update((row[0], _view(row)) for row in cursor.fetchall())
    return out


def from_keys(keys: dict[int, int]) -> dict[int, list[View]]:
    """Per stream, its views that end at or after its key (those holding its stored tail), by
    start: one statement per chunk of streams (the late ones of a batch)."""
    out: dict[int, list[View]] = {stream_id: [] for stream_id in keys}
    selected = ", ".join(f"v.{c}" for c in COLUMNS)
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(sorted(keys.items())):
            cursor.execute(
                f"SELECT v.stream_id, {selected} FROM {bulk_sql.table(ViewRow)} v"
                f" JOIN (VALUES {', '.join(['(%s, %s)'] * len(chunk))}) AS r ON v.stream_id = r.column1"
                " WHERE v.ended_us >= r.column2 ORDER BY v.stream_id, v.started_us",
                [x for pair in chunk for x in pair],
            )
            for stream_id, *row in cursor.fetchall():
                out[stream_id].append(_view(row))
    return out


def save(*, created: list[tuple[int, int, int, View]], updated: list[View], deleted: list[int]) -> dict[tuple[int, int], int]:
    """Insert `created` ((stream, user, movie, view)), update and delete; returns the new ids by
    (stream, started_us), which is unique per stream (its views are disjoint in time)."""
    if deleted:
        with connection.cursor() as cursor:
            for chunk in bulk_sql.chunks(sorted(deleted)):
                cursor.execute(f"DELETE FROM {bulk_sql.table(ViewRow)} WHERE id IN ({bulk_sql.placeholders(len(chunk))})", chunk)
    bulk_sql.update_from_values(
        ViewRow, COLUMNS[1:], [(v.id, v.started_us, v.ended_us, v.watch_time, v.furthest_position) for v in updated]
    )
    ids: dict[tuple[int, int], int] = {}
    columns = ("stream_id", "user_id", "movie_id", *COLUMNS[1:])
    row = "(" + bulk_sql.placeholders(len(columns)) + ")"
    with connection.cursor() as cursor:
        for chunk in bulk_sql.chunks(created):
            cursor.execute(
                f"INSERT INTO {bulk_sql.table(ViewRow)} ({', '.join(columns)}) VALUES {', '.join([row] * len(chunk))}"
                " RETURNING id, stream_id, started_us",
                [x for s, u, m, v in chunk for x in (s, u, m, v.started_us, v.ended_us, v.watch_time, v.furthest_position)],
            )
            ids.update(((stream_id, started), pk) for pk, stream_id, started in cursor.fetchall())
    return ids


def grouped_by_stream(items) -> dict[int, list]:
    out = defaultdict(list)
    for stream_id, value in items:
        out[stream_id].append(value)
    return out
