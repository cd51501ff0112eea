"""`python -m bench.apply_cost LABEL`: what the apply path costs per event, in-process, on two
workloads -> bench/results/apply_cost.{json,md}, one entry per LABEL (a release, a branch), so a
change's before and after sit side by side.

The consumer's cost per event is the apply path's: this runs it without a broker (the bench's
full consumer workloads add RabbitMQ and the loaded host's noise on top, and take half an hour).
Workloads, each in a database of its own: `spread`, streams over many movies, and `premiere`, every
stream on one movie (the rows every event of a batch shares). In-order 10 s heartbeats sorted by
time, applied in 500-event batches like a consumer's; the first WARMUP heartbeats of each stream
(which create its rows) are applied before the measured block. CPU: this process (the apply
code) and its PostgreSQL backend (/proc); WAL of the measured database alone (pg_walinspect), and
the server's from pg_current_wal_lsn() beside it (other work on the host adds to that one); rows
written from the database's own statistics. Run it with another
tree's code first on PYTHONPATH (`PYTHONPATH=../old/src python -m bench.apply_cost before`).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.cost import cpu_seconds
from bench.storage import RESULTS_DIR, log, scratch_database, write_results

HEARTBEAT_S = 10
BATCH = 500
WARMUP = 30
WORKLOADS = {"spread": 200, "premiere": 1}  # name -> movies


def heartbeats(*, streams: int, movies: int, per_stream: int) -> list:
    """In-order heartbeats of `streams` streams starting within a minute of each other, by time."""
    from watchtime.events.validation import EventIn

    start = datetime(2026, 11, 1, 19, 58, tzinfo=UTC)  # over an hour boundary
    events = []
    for s in range(streams):
        first = start + timedelta(seconds=(s * 7) % 60)
        session = uuid.uuid4().hex[:8]
        for i in range(per_stream):
            moment = first + timedelta(seconds=i * HEARTBEAT_S)
            events.append(EventIn(uuid.uuid4(), f"u{s}", f"m{s % movies}", i * HEARTBEAT_S, session, moment, moment))
    events.sort(key=lambda e: (e.ts, e.user))
    return events


def measure(*, streams: int, movies: int, per_stream: int) -> dict:
    from django.db import connection

    from watchtime.accounting.apply import events_apply
    from watchtime.definitions import definitions_from_settings, limits_from_settings

    limits, definitions = limits_from_settings(), definitions_from_settings()
    events = heartbeats(streams=streams, movies=movies, per_stream=per_stream)
    cut = streams * WARMUP
    warm, measured = events[:cut], events[cut:]

    def apply(chunk):
        for i in range(0, len(chunk), BATCH):
            events_apply(events=chunk[i : i + BATCH], limits=limits, definitions=definitions)

    apply(warm)
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # every measured block starts from the same point of the WAL's cycle
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
        lsn = wal_mark(cursor)
    rows = row_writes()
    app, pg = time.process_time(), cpu_seconds(backend)
    apply(measured)
    app, pg = time.process_time() - app, cpu_seconds(backend) - pg
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        (end,) = cursor.fetchone()
        cursor.execute("SELECT pg_wal_lsn_diff(%s, %s)", [end, lsn])
        (cluster_wal,) = cursor.fetchone()
        wal = own_wal(cursor, lsn, end)
    rows = row_writes() - rows
    n = len(measured)
    return {"events": n, "apply_cpu_us": round(app / n * 1e6, 1), "postgres_cpu_us": round(pg / n * 1e6, 1),
            "wal_bytes": round(float(wal) / n, 1), "cluster_wal_bytes": round(float(cluster_wal) / n, 1),
            "row_writes": round(rows / n, 2)}


def wal_mark(cursor) -> str:
    """The WAL position to measure from, kept (with what follows) until this session ends: a
    temporary replication slot, since another run's checkpoint would recycle it before own_wal reads it."""
    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    cursor.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", [f"wal_mark_{os.getpid()}"])
    cursor.execute("SELECT pg_current_wal_lsn()")
    return cursor.fetchone()[0]


def own_wal(cursor, start, end) -> int:
    """The WAL this database wrote between two positions (pg_walinspect): the records of its blocks
    and its transactions' commit records. The server's WAL is one stream, and other work on the host
    (test suites, other benches) moved it by thousands of bytes per event between runs of one code."""
    cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
    (database,) = cursor.fetchone()
    mine = f"%/{database}/%"  # a block reference names tablespace/database/relation
    cursor.execute("WITH r AS (SELECT xid, block_ref, record_length FROM pg_get_wal_records_info(%s, %s)),"
                   " own AS (SELECT DISTINCT xid FROM r WHERE block_ref LIKE %s AND xid <> 0)"
                   " SELECT COALESCE(SUM(record_length), 0) FROM r WHERE block_ref LIKE %s OR xid IN (SELECT xid FROM own)",
                   [start, end, mine, mine])
    return int(cursor.fetchone()[0])


def row_writes() -> int:
    """Rows inserted, updated and deleted in this database so far. Unlike the WAL (one stream for the
    whole server) it counts this database's writes alone, so it does not move with other work on the host."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts are flushed once it is idle
        cursor.execute("SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")
        return int(cursor.fetchone()[0])


def run_workload(name: str, *, streams: int, per_stream: int) -> dict:
    """One workload in a fresh database, in a process of its own (Django is set up once per process)."""
    with scratch_database(f"watchtime_apply_cost_{os.getpid()}_{name}") as url:
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "watchtime.cli", "migrate"], check=True, stdout=subprocess.DEVNULL, env=env)
        out = subprocess.run([sys.executable, "-m", "bench.apply_cost", "--one", name, "--streams", str(streams),
                              "--per-stream", str(per_stream)], capture_output=True, text=True, env=env)
        if out.returncode:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout)


def server_wal(figures: dict) -> str:
    """The server's WAL in brackets, where the entry has it (entries from before the database's own)."""
    return f" ({figures['cluster_wal_bytes']:,.0f})" if "cluster_wal_bytes" in figures else ""


def markdown(results: dict) -> str:
    lines = ["In-process apply cost per event (`python -m bench.apply_cost`): in-order 10 s heartbeats in 500-event"
             " batches after each stream's first 30; CPU of the apply code and of its PostgreSQL backend; WAL of the measured"
             " database (pg_walinspect; the server's in brackets);"
             " rows inserted, updated and deleted (the database's own statistics).", "",
             "| Label | Workload | Events | Apply CPU µs | PostgreSQL CPU µs | WAL B | Row writes |", "|---|---|---:|---:|---:|---:|---:|"]
    for label, entry in results.items():
        for name, r in entry["workloads"].items():
            runs = f" (median of {r['runs']})" if r.get("runs", 1) > 1 else ""
            lines.append(f"| {label}{runs} | {name} | {r['events']:,} | {r['apply_cpu_us']:,.0f} | {r['postgres_cpu_us']:,.0f}"
                         f" | {r['wal_bytes']:,.0f}{server_wal(r)} | {r.get('row_writes', '')} |")
    return "\n".join(lines) + "\n"


def medians(results: dict) -> dict:
    """One entry per label of repeated runs ("LABEL #1", "LABEL #2", ...): each figure's median over
    the runs, and how many there were (the host moves CPU by a tenth or more between runs)."""
    grouped: dict[str, list[dict]] = {}
    for label, entry in results.items():
        grouped.setdefault(re.sub(r" #\d+$", "", label), []).append(entry)
    out = {}
    for label, entries in grouped.items():
        workloads = {}
        for name in entries[0]["workloads"]:
            runs = [e["workloads"][name] for e in entries if name in e["workloads"]]
            workloads[name] = {key: _median([r[key] for r in runs]) for key in runs[0]} | {"runs": len(runs)}
        out[label] = {**entries[-1], "workloads": workloads}
    return out


def _median(values: list):
    middle = statistics.median(values)
    return int(middle) if all(isinstance(v, int) for v in values) and float(middle).is_integer() else middle


def changes(results: dict) -> str:
    """Each label against the first (the before): CPU (apply code + its PostgreSQL backend), the
    database's own WAL and rows written per event, in per cent."""
    (base_label, base), *others = results.items()

    def change(new: float, old: float) -> str:
        return f"{(new / old - 1) * 100:+.0f} %"

    lines = [f"Against {base_label}:", "", "| Label | Workload | CPU | WAL | Rows written |", "|---|---|---:|---:|---:|"]
    for label, entry in others:
        for name, r in entry["workloads"].items():
            b = base["workloads"][name]
            cpu = change(r["apply_cpu_us"] + r["postgres_cpu_us"], b["apply_cpu_us"] + b["postgres_cpu_us"])
            rows = change(r["row_writes"], b["row_writes"]) if "row_writes" in r and "row_writes" in b else ""
            lines.append(f"| {label} | {name} | {cpu} | {change(r['wal_bytes'], b['wal_bytes'])} | {rows} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_cost", description=__doc__)
    parser.add_argument("label", nargs="?")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--per-stream", type=int, default=90)
    parser.add_argument("--one", choices=WORKLOADS, help=argparse.SUPPRESS)  # the child process of one workload
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    parser.add_argument("--medians-of", type=Path, metavar="DIR",
                        help="write the medians of DIR/apply_cost.json's repeated runs (LABEL #n) to --output instead")
    args = parser.parse_args(argv)
    if args.medians_of:
        results = medians(json.loads((args.medians_of / "apply_cost.json").read_text()))
        write_results(args.output, "apply_cost", results, markdown(results))
        return 0
    if args.one:
        os.environ.update({"DJANGO_SETTINGS_MODULE": "watchtime.settings", "WATCHTIME_LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        print(json.dumps(measure(streams=args.streams, movies=WORKLOADS[args.one], per_stream=args.per_stream)))
        return 0
    if not args.label:
        parser.error("a LABEL names this run's entry")
    workloads = {}
    for name in WORKLOADS:
        workloads[name] = run_workload(name, streams=args.streams, per_stream=args.per_stream)
        log(f"{args.label} {name}: {workloads[name]}")
    path = args.output / "apply_cost.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.label] = {"finished": datetime.now(UTC).isoformat(timespec="seconds"), "streams": args.streams,
                           "per_stream": args.per_stream, "workloads": workloads}
    write_results(args.output, "apply_cost", results, markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
