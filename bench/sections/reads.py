"""Reads at two dataset sizes: the three totals (in-process and over HTTP against the read
floor), the analytics and live endpoints and the dashboard's pages (in-process), on a dataset built
set-based with analytics rows derived by the product's recompute (and live rows: bench.live)."""

import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

from bench import cost, live, loadgen, scenarios, workload
from bench.core import READ_CONNECTIONS, Bench, log
from bench.results import figure

ENDPOINTS = ("user", "movie", "user-movie")
READ_FLOOR_RATIO = 0.75
ANALYTICS_P50_MS = 20
ANALYTICS_COST_RATIO = 1.5
MONTH = "from=2026-01-01&to=2026-01-31"  # 30 days: the dataset's whole spread (workload.SPREAD_HOURS)
ANALYTICS = {
    "series, movie, 30 days": lambda u, m: f"/movies/{m}/watch-time/?{MONTH}&interval=day",
    "series, user, 30 days": lambda u, m: f"/users/{u}/watch-time/?{MONTH}&interval=day",
    "series, overall, 30 days": lambda u, m: f"/stats/watch-time/?{MONTH}&interval=day",
    "series, movie, 30 days in Asia/Kathmandu": lambda u, m: f"/movies/{m}/watch-time/?{MONTH}&interval=day&tz=Asia/Kathmandu",
    "series, movie, 48 hours in Australia/Lord_Howe": lambda u, m: (
        f"/movies/{m}/watch-time/?from=2026-01-10&to=2026-01-12&interval=hour&tz=Australia/Lord_Howe"),
    "top 10 movies, 30 days": lambda u, m: f"/stats/top-movies/?{MONTH}&limit=10",
    "progress": lambda u, m: f"/users/{u}/progress/?state=all",
    "engagement, 30 days": lambda u, m: f"/movies/{m}/engagement/?{MONTH}",
    "retention": lambda u, m: f"/movies/{m}/retention/",
    "concurrency minutes, movie, 48 h": lambda u, m: f"/movies/{m}/concurrency/?interval=minute&from=2026-01-29&to=2026-01-31",
    "concurrency minutes, overall, 48 h": lambda u, m: "/stats/concurrency/?interval=minute&from=2026-01-29&to=2026-01-31",
    "concurrency daily peaks, movie, 30 days": lambda u, m: f"/movies/{m}/concurrency/?interval=day&{MONTH}",
    "concurrency daily peaks, overall, 30 days": lambda u, m: f"/stats/concurrency/?interval=day&{MONTH}",
}
# The live count (issue 24): read from its own small table, so its target is tighter.
LIVE_P50_MS = 5
LIVE = {  # (user, movie, the premiere's movie) -> path
    "live, overall with top 10": lambda u, m, p: "/stats/live/",
    "live, movie": lambda u, m, p: f"/movies/{m}/live/",
    "live, the premiere's movie": lambda u, m, p: f"/movies/{p}/live/",
}

# The dataset's last WATCHTIME_CONCURRENCY_MINUTE_DAYS keep minute values, older minutes are folded into
# quarter peaks, as `maintain` leaves them; the minute window follows the dataset's dates, not the clock.
DATASET_END = workload.BASE + timedelta(hours=workload.SPREAD_HOURS)


def fold_as_maintain() -> None:
    """Fold the dataset's concurrency minutes as `maintain` would at its end."""
    from django.conf import settings

    from watchtime.accounting.concurrency_peaks import fold

    fold(now=DATASET_END, minute_days=settings.WATCHTIME_CONCURRENCY_MINUTE_DAYS)


def minute_window():
    """Settings under which the dataset's last days are within the minute window, whatever today is."""
    from django.conf import settings
    from django.test import override_settings

    days = settings.WATCHTIME_CONCURRENCY_MINUTE_DAYS
    return override_settings(WATCHTIME_CONCURRENCY_MINUTE_DAYS=(datetime.now(UTC) - DATASET_END).days + days)

# The dashboard's pages (issue 25), each a handful of the analytics answers above rendered into HTML.
DASHBOARD_MS = 300
DAYS = "range=custom&from=2026-01-01&to=2026-01-30"  # the same 30 days (the last day inclusive)
DASHBOARD = {
    "overview": lambda u, m: f"/dashboard/?{DAYS}",
    "movie": lambda u, m: f"/dashboard/movies/{m}/?{DAYS}",
    "viewer": lambda u, m: f"/dashboard/viewers/{u}/?{DAYS}",
}


def _dashboard_client():
    """A Django test client signed in to the dashboard as an admin (its pages show every action)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench-dashboard",
                                                     defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    return client


def build(b: Bench, size: int) -> dict:
    from django.db import connections

    connections.close_all()
    b.stack.truncate_events()
    began = time.monotonic()
    with closing(b.stack.connect()) as conn:
        shape = workload.build_read_dataset(conn, size)
    built = time.monotonic()
    pairs = workload.derive_analytics()
    fold_as_maintain()
    connections.close_all()
    # Steady state, as autovacuum leaves tables in production: otherwise it and the checkpointer
    # work through the fresh rows during the measurement.
    b.stack.sql("VACUUM ANALYZE")
    b.stack.sql("CHECKPOINT")
    log(f"  dataset of {shape['events']} events built in {built - began:.1f} s, analytics of {pairs} user-movies "
        f"derived in {time.monotonic() - built:.1f} s")
    return shape


def run(b: Bench) -> None:
    import django

    django.setup()
    from django.db import connections
    from django.test import Client

    s = b.sizes
    api = b.start_api()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {b.stack.api_key}")
    floor = b.limits.get("floor_read")
    measured: dict[int, dict[str, float]] = {}
    for size in (s.read_small, s.read_large):
        shape = build(b, size)
        paths = scenarios.read_paths(b.stack)
        measured[size] = {}
        label = f"{size:,} events"
        large = size == s.read_large
        dataset = f"{shape['events']:,} events, {shape['users']:,} users, {shape['movies']} movies, {shape['streams']:,} streams over 30 days"
        if s.http_warmup:  # one over every endpoint: the workers' code paths, connections, caches
            api.load([api.get(p) for e in ENDPOINTS for p in paths[e]], connections=READ_CONNECTIONS, duration=1)
        for endpoint in ENDPOINTS:
            scenarios.in_process_latencies(client, paths[endpoint], 50)  # warm-up
            runs = [scenarios.in_process_latencies(client, paths[endpoint], s.read_requests) for _ in range(s.repeats)]
            requests = [api.get(p) for p in paths[endpoint]]
            with cost.Meter(b.stack, **{"API workers": cost.tree(lambda: api.process.pid, with_parent=False),
                                        "PostgreSQL": cost.postgres(b.stack)}) as meter:
                http = [api.load(requests, connections=READ_CONNECTIONS, duration=s.read_seconds) for _ in range(s.repeats)]
            if large and endpoint == "user-movie":  # the costliest of the three (a three-table join)
                cost.add(b, f"read user-movie over HTTP @ {label}", meter, sum(r.requests for r in http), "request")
            p50 = b.add(figure(f"read {endpoint}: in-process p50 @ {label}", [loadgen.percentile(r, 50) * 1000 for r in runs], "ms",
                               at_most=2, setup=f"Django test client in the bench process, {s.read_requests} requests over 200 keys; {dataset}"))
            b.add(figure(f"read {endpoint}: in-process p99 @ {label}", [loadgen.percentile(r, 99) * 1000 for r in runs], "ms",
                         at_most=5 if large else None, setup=p50.setup))
            rps = b.add(figure(
                f"read {endpoint}: req/s, 16 connections @ {label}", [r.rps for r in http], "req/s",
                raw_limit=floor, min_ratio=READ_FLOOR_RATIO,
                setup=f"{scenarios.gunicorn_setup()}, wrk, closed loop, {READ_CONNECTIONS} keep-alive connections, "
                      f"{loadgen.closed_loop_seconds(s.read_seconds)} s; HTTP p99 {min(r.percentile_ms(99) for r in http):.1f}-"
                      f"{max(r.percentile_ms(99) for r in http):.1f} ms; raw = the read floor; {dataset}"))
            measured[size][endpoint] = p50.value
            measured[size][f"{endpoint} rps"] = rps.value
        rows = b.stack.sql("SELECT u.username, w.movie_id FROM events_watchtime w JOIN events_customuser u ON u.id = w.user_id"
                           " ORDER BY random() LIMIT 50")
        live_rows, premiere = live.fill(b.stack)  # just before: its rows are received relative to now
        live_paths = {name: (lambda u, m, make=make: make(u, m, premiere)) for name, make in LIVE.items()}
        window = minute_window()
        for name, make in {**ANALYTICS, **live_paths}.items():
            keyed = [make(u, m) for u, m in rows]
            with window:
                scenarios.in_process_latencies(client, keyed, 10)  # warm-up
                runs = [scenarios.in_process_latencies(client, keyed, s.analytics_requests) for _ in range(s.repeats)]
            extra = f", {live_rows:,} live rows (a premiere's last ten minutes)" if name in LIVE else ""
            fig = b.add(figure(
                f"analytics {name}: in-process p50 @ {label}", [loadgen.percentile(r, 50) * 1000 for r in runs], "ms",
                at_most=(LIVE_P50_MS if name in LIVE else ANALYTICS_P50_MS) if large else None,
                setup=f"Django test client, {s.analytics_requests} requests over {len(keyed)} keys, p99 "
                      f"{min(loadgen.percentile(r, 99) for r in runs) * 1000:.1f}-{max(loadgen.percentile(r, 99) for r in runs) * 1000:.1f} ms; {dataset}{extra}"))
            measured[size][name] = fig.value
        dashboard = _dashboard_client()
        for name, make in DASHBOARD.items():
            keyed = [make(u, m) for u, m in rows]
            first = scenarios.in_process_latencies(dashboard, keyed, len(keyed))  # each key's first render
            runs = [scenarios.in_process_latencies(dashboard, keyed, s.analytics_requests) for _ in range(s.repeats)]
            b.add(figure(
                f"dashboard {name} page: in-process p50 @ {label}", [loadgen.percentile(r, 50) * 1000 for r in runs], "ms",
                at_most=DASHBOARD_MS if large else None,
                setup=f"Django test client signed in, {s.analytics_requests} renders over {len(keyed)} keys; first renders "
                      f"p50 {loadgen.percentile(first, 50) * 1000:.1f} ms, max {max(first) * 1000:.1f} ms; "
                      f"{len(dashboard.get(keyed[0]).content):,} bytes of HTML; {dataset}"))
    connections.close_all()
    small, large = measured[s.read_small], measured[s.read_large]
    for endpoint in ENDPOINTS:
        b.add(figure(f"read {endpoint}: p50 ratio {s.read_large:,} / {s.read_small:,} events", [large[endpoint] / small[endpoint]], "x",
                     at_most=1.2, setup="in-process p50 at the large dataset over the small one"))
        b.add(figure(f"read {endpoint}: req/s ratio {s.read_small:,} / {s.read_large:,} events",
                     [small[f"{endpoint} rps"] / large[f"{endpoint} rps"]], "x", at_most=1.2,
                     setup="16-connection req/s at the small dataset over the large one"))
    for name in {**ANALYTICS, **LIVE}:
        b.add(figure(f"analytics {name}: cost ratio {s.read_large:,} / {s.read_small:,} events", [large[name] / small[name]], "x",
                     at_most=ANALYTICS_COST_RATIO, setup="in-process p50 at the large dataset over the small one"))
