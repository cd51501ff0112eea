"""A real `watchtime api` publishing to RabbitMQ with confirms: single events (closed loop for the
maximum, a fixed rate of half of it for latency) and 1000-event arrays."""

import statistics

from bench import cost, loadgen, scenarios, workload
from bench.core import READ_CONNECTIONS, Bench
from bench.results import figure

PUBLISH_FLOOR_RATIO = 0.6
P99_MS = 25
BATCH_EVENTS_PER_S = 50_000


def run(b: Bench) -> None:
    s = b.sizes
    api = b.start_api()
    singles = [api.post(body) for body in scenarios.single_event_bodies()]
    if s.http_warmup:
        api.load(singles, connections=READ_CONNECTIONS, duration=1)  # publisher connections, caches
    b.stack.purge()
    setup = (
        f"`watchtime api` gunicorn gthread {scenarios.API_WORKERS} workers x {scenarios.API_THREADS} threads, "
        "confirmed publish to RabbitMQ; load generator on the same 2 cores"
    )
    closed, rss = [], []
    groups = {"API workers": cost.tree(lambda: api.process.pid, with_parent=False), "RabbitMQ": cost.live(cost.rabbitmq_pids)}
    for _ in range(s.repeats):
        with cost.Meter(b.stack, **groups) as meter:
            closed.append(api.load(singles, connections=READ_CONNECTIONS, duration=s.ingest_seconds))
        b.stack.purge()
        rss.append(api.worker_rss())
    # The last repeat's CPU (the purge between repeats costs RabbitMQ too).
    cost.add(b, "single-event POST /", meter, closed[-1].requests, "request")
    b.add(figure(
        "ingest: single-event POST /, max throughput", [r.rps for r in closed], "req/s",
        raw_limit=b.limits.get("floor_publish"), min_ratio=PUBLISH_FLOOR_RATIO,
        setup=f"{setup}; wrk, closed loop, {READ_CONNECTIONS} keep-alive connections, {loadgen.closed_loop_seconds(s.ingest_seconds)} s; "
              "raw = the publish floor (bare view + one confirmed publish)",
    ))
    # Latency where the server keeps up: a fixed rate of half its measured maximum, judged on
    # the worst repeat (a target met in two runs of three is not met).
    half = statistics.median(r.rps for r in closed) / 2
    sustainable = []
    for _ in range(s.repeats):
        sustainable.append(api.load_at_rate(singles, connections=64, duration=s.ingest_seconds, rate=half))
        b.stack.purge()
    half_setup = (
        f"{setup}; Python asyncio generator at a fixed rate of {half:.0f} req/s (half the measured maximum) over 64 connections, "
        f"{s.ingest_seconds} s, latency from the intended send time; repeats: "
        + ", ".join(f"p50 {r.percentile_ms(50):.1f} / p99 {r.percentile_ms(99):.1f} ms" for r in sustainable)
    )
    b.add(figure("ingest: single-event POST / p50 at half the max rate", [r.percentile_ms(50) for r in sustainable], "ms", setup=half_setup))
    b.add(figure("ingest: single-event POST / p99 at half the max rate", [r.percentile_ms(99) for r in sustainable], "ms",
                 at_most=P99_MS, worst=True, setup=half_setup))
    batches = [api.post(workload.client_batch(1000, offset=i * 1000)) for i in range(5)]
    results, batch_rss = [], []
    for _ in range(s.repeats):
        results.append(api.load(batches, connections=4, duration=s.ingest_seconds))
        b.stack.purge()
        batch_rss.append(api.worker_rss())
    b.add(figure(
        "ingest: POST / of 1000-event arrays", [r.rps * 1000 for r in results], "events/s", at_least=BATCH_EVENTS_PER_S,
        setup=f"{setup}; wrk, closed loop, 4 connections, {loadgen.closed_loop_seconds(s.ingest_seconds)} s, ~{len(batches[0]) // 1024} KiB bodies",
    ))
    # Flat means: repeating the same load does not grow it. The memory section compares the last
    # round of each kind with its first (after which threads, pools, caches and arenas exist).
    b.api_rss = (rss, batch_rss)
