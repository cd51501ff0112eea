"""`python -m bench.premiere [--streams N]`: a premiere (one movie, N streams joining within its first
minutes, 10 s heartbeats with pauses and seeks, a few delivered late) through the apply path into a
scratch database -> bench/results/premiere.{json,md}: the concurrency minute series and its peak,
checked exact against the reference recompute (tests/accounting/reference.py) and `verify`, the
apply cost per event, and the in-process read times of the minute series over 48 hours and the
daily peaks over 30 days.

The premiere starts a day before the run (inside the minute window), five minutes before an hour.
"""

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.apply_cost import own_wal, wal_mark
from bench.storage import RESULTS_DIR, log, scratch_database, write_results

HEARTBEAT_S = 10
BATCH = 500
LATE_SHARE = 0.03  # heartbeats held back and delivered after the others (late, out of order)
READS = 50


def premiere_events(rng: random.Random, *, streams: int, minutes: int, start: datetime) -> list:
    """Streams join over the first 5 minutes and watch most of the premiere; some pause a minute or
    seek ahead; a fifth have no wall clock (keyed by receipt)."""
    from watchtime.events.validation import EventIn

    events = []
    for s in range(streams):
        moment = start + timedelta(seconds=rng.uniform(0, 300))
        length = rng.uniform(0.5, 1.0) * minutes * 60
        position, end, with_clock = 0, moment + timedelta(seconds=length), rng.random() < 0.8
        session = uuid.uuid4().hex[:8]
        while moment < end:
            events.append(EventIn(uuid.uuid4(), f"viewer{s}", "premiere", position, session, moment if with_clock else None,
                                  moment + timedelta(milliseconds=rng.randrange(0, 400))))
            roll = rng.random()
            position += 0 if roll < 0.03 else (rng.randrange(60, 300) if roll < 0.05 else HEARTBEAT_S)
            moment += timedelta(seconds=60 if roll < 0.01 else HEARTBEAT_S)
    return events


def run(*, streams: int, minutes: int, seed: int) -> dict:
    from django.db import connection
    from django.test import Client

    from tests.accounting.reference import MINUTE, Event, compute
    from watchtime.accounting.apply import events_apply
    from watchtime.accounting.audit.concurrency import concurrency_drift
    from watchtime.analytics.models import Minute, MovieMinute
    from watchtime.apikeys.services import apikey_create
    from watchtime.definitions import definitions_from_settings, limits_from_settings
    from watchtime.timestamps import to_us

    rng = random.Random(seed)
    limits, definitions = limits_from_settings(), definitions_from_settings()
    start = (datetime.now(UTC) - timedelta(days=1)).replace(minute=55, second=0, microsecond=0)
    events = premiere_events(rng, streams=streams, minutes=minutes, start=start)
    events.sort(key=lambda e: e.received_at)
    late = [e for e in events if rng.random() < LATE_SHARE]
    late_ids = {e.event_id for e in late}
    delivered = [e for e in events if e.event_id not in late_ids] + late
    with connection.cursor() as cursor:
        lsn = wal_mark(cursor)
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(delivered), BATCH):
        events_apply(events=delivered[i : i + BATCH], limits=limits, definitions=definitions)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        wal = own_wal(cursor, lsn, cursor.fetchone()[0])

    ref = compute([Event(str(e.event_id), e.user, e.slug, e.session, e.at, to_us(e.ts or e.received_at),
                         to_us(e.ts) if e.ts else None) for e in events],
                  limits=limits, gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)
    stored_movie = {m: n for m, n in MovieMinute.objects.values_list("minute", "viewers") if n}
    stored_all = {m: n for m, n in Minute.objects.values_list("minute", "viewers") if n}
    exact = stored_movie == ref.minutes("premiere") == stored_all and concurrency_drift(limits=limits) == []
    if not exact:
        raise SystemExit("the stored concurrency history differs from the reference recompute")
    first, last = min(stored_movie), max(stored_movie)
    peak, peak_at = ref.peak("premiere", first, last + 1)

    _, key = apikey_create(name="bench-premiere", scopes=("read",))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    movie_id = MovieMinute.objects.values_list("movie_id", flat=True).first()
    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    window = f"from={iso(start - timedelta(hours=12))}&to={iso(start + timedelta(hours=36))}"
    month = f"from={iso(start - timedelta(days=29))}&to={iso(start + timedelta(days=1))}"
    reads = {
        "minute series, movie, 48 h": f"/movies/{movie_id}/concurrency/?interval=minute&{window}",
        "minute series, overall, 48 h": f"/stats/concurrency/?interval=minute&{window}",
        "daily peaks, movie, 30 days": f"/movies/{movie_id}/concurrency/?interval=day&{month}",
        "daily peaks, overall, 30 days (Europe/Paris)": f"/stats/concurrency/?interval=day&tz=Europe/Paris&{month}",
    }
    timings = {}
    for name, path in reads.items():
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.content[:300])
        latencies = []
        for _ in range(READS):
            t = time.perf_counter()
            client.get(path)
            latencies.append(time.perf_counter() - t)
        timings[name] = round(sorted(latencies)[len(latencies) // 2] * 1000, 2)
    days = client.get(reads["daily peaks, movie, 30 days"]).json()["results"]
    assert max(d["peak"] for d in days) == peak
    return {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"), "streams": streams, "minutes": minutes, "seed": seed,
        "events": len(events), "late": len(late), "batch": BATCH,
        "apply": {"wall_s": round(wall, 2), "apply_cpu_us_per_event": round(cpu / len(events) * 1e6, 1),
                  "wal_bytes_per_event": round(float(wal) / len(events), 1)},
        "peak": {"viewers": peak, "at": iso(datetime.fromtimestamp(peak_at * MINUTE / 1e6, UTC))},
        "exact": exact,
        "series": [[iso(datetime.fromtimestamp(m * MINUTE / 1e6, UTC)), stored_movie.get(m, 0)] for m in range(first, last + 1)],
        "read_p50_ms": timings,
    }


def markdown(r: dict, *, series: bool = True) -> str:
    """The premiere's summary and reads, and (`series`) its minute series."""
    lines = [f"Premiere (`python -m bench.premiere --streams {r['streams']}`, {r['finished']}): one movie, {r['streams']:,} streams "
             f"joining over 5 minutes, {r['events']:,} heartbeats ({r['late']:,} delivered late) in {r['batch']}-event batches, "
             f"in-process. The minute series equals the reference recompute and `verify`: {r['exact']}.", "",
             f"Peak: **{r['peak']['viewers']:,}** concurrent viewers at {r['peak']['at']}. Apply: "
             f"{r['apply']['apply_cpu_us_per_event']:,} µs CPU and {r['apply']['wal_bytes_per_event']:,} B of WAL per event (the database's own, pg_walinspect).", "",
             "| Read (in-process, Django test client) | p50 ms |", "|---|---:|"]
    lines += [f"| {name} | {ms} |" for name, ms in r["read_p50_ms"].items()]
    if series:
        lines += ["", "| Minute (UTC) | Viewers |", "|---|---:|"]
        lines += [f"| {start[11:16]} | {viewers:,} |" for start, viewers in r["series"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.premiere", description=__doc__)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=20, help="how long the premiere runs")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    with scratch_database(f"watchtime_premiere_{os.getpid()}") as url:
        os.environ.update({"DATABASE_URL": url, "DJANGO_ALLOWED_HOSTS": "testserver"})  # the in-process client's host
        subprocess.run([sys.executable, "-m", "watchtime.cli", "migrate"], check=True, stdout=subprocess.DEVNULL)
        import django

        django.setup()
        result = run(streams=args.streams, minutes=args.minutes, seed=args.seed)
        from django.db import connections

        connections.close_all()
    log(f"premiere: peak {result['peak']}, reads {result['read_p50_ms']}")
    write_results(args.output, "premiere", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
