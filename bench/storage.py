"""`python -m bench.storage`: bytes per event, stream and rollup row on PostgreSQL, and a soak of
simulated days with retention on (the log's size flat after the horizon) -> bench/results/storage.{json,md}.

It runs on the machine's PostgreSQL (`DATABASE_URL`'s server, default 127.0.0.1:5432) in a database
of its own, created and dropped here, and applies heartbeats in-process through the real apply
path (every rollup on), one simulated UTC day at a time, pruning after each day what is older than
the retention (what `watchtime maintain` does hourly with WATCHTIME_EVENT_RETENTION_DAYS).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEARTBEAT_S = 10
EVENTS_PER_VIEWER_DAY = 86_400 // HEARTBEAT_S
VIEWERS = (10_000, 100_000, 1_000_000)
STREAM_HEARTBEATS = 360  # an hour's session: a stream per viewer-hour
MOVIES = 200
BATCH = 500

# Table groups as they grow: the log and its dedupe ids are bounded by the retention; streams, views
# and the user rollups (kept when a prune folds the log) grow with the viewer-hours; watch times with
# the user-movie pairs; retention bins and the movie rollups with the catalogue (movies x duration,
# movies x hours), not with the viewers.
GROUPS = {
    "log": ("events_eventlog",),
    "event ids": ("events_eventid",),
    "streams": ("events_stream",),
    "watch times": ("events_watchtime",),
    "views": ("analytics_view",),
    "retention bins": ("analytics_retentionbin",),
    "user rollups": ("analytics_usermoviequarter", "analytics_userquarter"),
    "movie rollups": ("analytics_moviequarter", "analytics_movieutcday", "analytics_moviequarterreach", "analytics_quarter",
                      "analytics_quarterreach"),
    # The concurrency history: per stream its played minutes (a row per run), growing with the
    # viewer-hours; per movie and minute a value for WATCHTIME_CONCURRENCY_MINUTE_DAYS, then a peak
    # per quarter hour, growing with the catalogue and the time (movies x minutes), not the viewers.
    "concurrency runs": ("analytics_streamplay", "analytics_foldedplay"),
    "concurrency minutes": ("analytics_movieminute", "analytics_minute", "analytics_moviequarterpeak", "analytics_quarterpeak"),
}


@dataclass
class DaySize:
    day: int
    events_applied: int
    events_kept: int
    bytes_by_group: dict
    database_bytes: int


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def day_of_heartbeats(rng: random.Random, day: date, *, users: int, streams: int) -> list:
    """`streams` hour-long sessions of in-order 10 s heartbeats by `users` users, spread over the day."""
    from watchtime.events.validation import EventIn

    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    events = []
    for s in range(streams):
        start = midnight + timedelta(seconds=rng.randrange(0, 86_400 - STREAM_HEARTBEATS * HEARTBEAT_S))
        user, slug, position = f"u{rng.randrange(users)}", f"m{rng.randrange(MOVIES)}", rng.randrange(0, 3600)
        session = uuid.uuid4().hex[:8]
        for i in range(STREAM_HEARTBEATS):
            moment = start + timedelta(seconds=i * HEARTBEAT_S)
            events.append(EventIn(uuid.uuid4(), user, slug, position + i * HEARTBEAT_S, session, moment, moment))
    events.sort(key=lambda e: e.ts)
    return events


def relation_bytes(cursor, table: str) -> tuple[int, int]:
    """(heap + indexes + toast in bytes, rows) of a table, a partitioned one summed over its partitions;
    (0, 0) for a table the measured tree does not have (an older release's, measured as `before`)."""
    cursor.execute("SELECT to_regclass(%s)", [table])
    if cursor.fetchone()[0] is None:
        return 0, 0
    cursor.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " WHERE c.oid = %s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
        [table, table],
    )
    (size,) = cursor.fetchone()
    cursor.execute(f"SELECT count(*) FROM {table}")
    (rows,) = cursor.fetchone()
    return int(size), rows


def measure(url: str) -> tuple[dict, dict, int]:
    """Bytes by group, (bytes, rows) by table, and the database's size, after a VACUUM (what
    autovacuum reaches in steady state: the space of updated rows is reused, not returned)."""
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            tables = {t: relation_bytes(cursor, t) for group in GROUPS.values() for t in group}
            cursor.execute("SELECT pg_database_size(current_database())")
            (database,) = cursor.fetchone()
    groups = {g: sum(tables[t][0] for t in members) for g, members in GROUPS.items()}
    return groups, tables, database


def marginal_bytes(curve: list[DaySize], *, retention_days: int, events_per_day: int, streams_per_day: int) -> dict:
    """Bytes each new row adds, from the growth between days (an empty table's pages and the
    partitions made ahead are a fixed cost, not a cost per row): the log and its ids while they
    fill the retention window, the kept figures once the log is flat."""
    def group(day: int, name: str) -> int:
        return curve[day - 1].bytes_by_group[name]

    filled, last = retention_days, len(curve)
    events = events_per_day * (filled - 1)
    streams = streams_per_day * (last - filled)
    kept = ("views", "user rollups")
    return {
        "event": (group(filled, "log") - group(1, "log")) / events,
        "event id": (group(filled, "event ids") - group(1, "event ids")) / events,
        "stream": (group(last, "streams") - group(filled, "streams")) / streams,
        "views and user rollups per stream": sum(group(last, g) - group(filled, g) for g in kept) / streams,
        "concurrency runs per stream": (group(last, "concurrency runs") - group(filled, "concurrency runs")) / streams,
    }


def projection(bytes_per: dict, *, retention_days: int) -> list[dict]:
    """Storage per day and per retention window at 10 s heartbeats; rows per viewer-day: one
    event per heartbeat (and its dedupe id), a stream, a user-movie-hour and a run of played minutes
    per viewer-hour."""
    rows = []
    for viewers in VIEWERS:
        events = viewers * EVENTS_PER_VIEWER_DAY
        streams = viewers * 24
        log_day = events * (bytes_per["event"] + bytes_per["event id"])
        kept_day = streams * (bytes_per["stream"] + bytes_per["views and user rollups per stream"]
                              + bytes_per.get("concurrency runs per stream", 0))  # older results have none
        rows.append({
            "concurrent viewers": viewers,
            "events per second": viewers / HEARTBEAT_S,
            "events per day": events,
            "log per day (GB)": log_day / 1e9,
            "log at the retention window (GB)": log_day * retention_days / 1e9,
            "kept figures per day (GB)": kept_day / 1e9,
        })
    return rows


def run(*, days: int, retention_days: int, users: int, streams: int, url: str) -> dict:
    from django.db import connection

    from watchtime.accounting import retention
    from watchtime.accounting.apply import events_apply
    from watchtime.definitions import definitions_from_settings, limits_from_settings
    from watchtime.events import partitions

    limits, definitions = limits_from_settings(), definitions_from_settings()
    rng = random.Random(2026)
    first = max(p.day for p in partitions.existing(connection) if p.day) + timedelta(days=1)
    curve, applied, started = [], 0, time.monotonic()
    for d in range(days):
        day = first + timedelta(days=d)
        events = day_of_heartbeats(rng, day, users=users, streams=streams)
        for i in range(0, len(events), BATCH):
            events_apply(events=events[i : i + BATCH], limits=limits, definitions=definitions)
        applied += len(events)
        if d + 1 >= retention_days:
            retention.prune(before=day - timedelta(days=retention_days - 1), limits=limits, definitions=definitions)
        connection.close()
        groups, tables, database = measure(url)
        events_per_day = len(events)
        kept = tables["events_eventlog"][1]
        curve.append(DaySize(d + 1, applied, kept, groups, database))
        log(f"day {d + 1}: {applied:,} applied, {kept:,} kept, log {groups['log'] / 1e6:.1f} MB,"
            f" database {database / 1e6:.1f} MB ({time.monotonic() - started:.0f} s)")
    bytes_per = marginal_bytes(curve, retention_days=retention_days, events_per_day=events_per_day,
                               streams_per_day=streams)
    return {
        "setup": {"days": days, "retention_days": retention_days, "users": users, "streams_per_day": streams,
                  "heartbeats_per_stream": STREAM_HEARTBEATS, "movies": MOVIES,
                  "postgres": _server_version(url)},
        "bytes_per": {k: round(v, 1) for k, v in bytes_per.items()},
        "curve": [asdict(c) for c in curve],
        "projection": projection(bytes_per, retention_days=30),
    }


def _server_version(url: str) -> str:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def markdown(result: dict) -> str:
    s = result["setup"]
    lines = [
        f"Storage soak: {s['days']} simulated days, retention {s['retention_days']} days (a prune after each day),"
        f" {s['streams_per_day']} hour-long streams a day ({s['heartbeats_per_stream']} in-order 10 s heartbeats each)"
        f" by {s['users']} users over {s['movies']} movies, applied in-process through the apply path in"
        f" {BATCH}-event batches, every rollup on; PostgreSQL {s['postgres']}; sizes after VACUUM ANALYZE.",
        "",
        "| Per | Bytes (heap + indexes) |",
        "|---|---:|",
        *(f"| {k} | {v:,.0f} |" for k, v in result["bytes_per"].items()),
        "",
        "| Day | Applied | Kept in the log | " + " | ".join(GROUPS) + " | Database |",
        "|---:|---:|---:|" + "---:|" * len(GROUPS) + "---:|",
    ]
    for c in result["curve"]:
        sizes = " | ".join(f"{c['bytes_by_group'][g] / 1e6:.1f} MB" for g in GROUPS)
        lines.append(f"| {c['day']} | {c['events_applied']:,} | {c['events_kept']:,} | {sizes} | {c['database_bytes'] / 1e6:.1f} MB |")
    lines += ["", "| Concurrent viewers | Events/s | Events/day | Log per day | Log at 30 days' retention | Streams, views, user rollups per day (kept) |",
              "|---:|---:|---:|---:|---:|---:|"]
    for p in result["projection"]:
        lines.append(
            f"| {p['concurrent viewers']:,} | {p['events per second']:,.0f} | {p['events per day']:,} |"
            f" {p['log per day (GB)']:,.1f} GB | {p['log at the retention window (GB)']:,.0f} GB |"
            f" {p['kept figures per day (GB)']:,.2f} GB |"
        )
    return "\n".join(lines) + "\n"


def write_results(directory: Path, name: str, result: dict, text: str) -> None:
    """`name`.json (the figures) and `name`.md (`text`, their table) in `directory`, and the table
    printed: what every in-process bench leaves behind."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (directory / f"{name}.md").write_text(text)
    print(text)


@contextmanager
def scratch_database(name: str):
    """The URL of a new database `name` on DATABASE_URL's server, with the environment an in-process
    apply needs (no broker, quiet logs), dropped on the way out."""
    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
    with closing(psycopg2.connect(f"{server}/postgres")) as admin:
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
    os.environ.update({"DJANGO_SETTINGS_MODULE": "watchtime.settings", "WATCHTIME_LOG_LEVEL": "WARNING",
                       "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
                       "WATCHTIME_LIVE_TOKEN_KEY": "bench-live-token-key-not-for-production"})
    os.environ.pop("RABBITMQ_URL", None)  # the apply path runs here, no broker
    try:
        yield f"{server}/{name}"
    finally:
        with closing(psycopg2.connect(f"{server}/postgres")) as admin:
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--retention-days", type=int, default=3)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--streams", type=int, default=120, help="hour-long streams per simulated day")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    with scratch_database(f"watchtime_storage_{os.getpid()}") as url:
        os.environ["DATABASE_URL"] = url
        subprocess.run([sys.executable, "-m", "watchtime.cli", "migrate"], check=True, stdout=subprocess.DEVNULL)
        import django

        django.setup()
        result = run(days=args.days, retention_days=args.retention_days, users=args.users, streams=args.streams, url=url)
        from django.db import connection

        connection.close()
    write_results(args.output, "storage", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
