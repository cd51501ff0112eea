"""A real `watchtime api` publishing to RabbitMQ with confirms: single events (closed loop for the
maximum, with its CPU per request against the bare view's, a fixed rate of half of it for latency)
and 1000-event arrays. The single-event load has one connection per gunicorn thread (group commit
gathers only what is concurrent), as the bare view's floor in the same run."""

import statistics

from bench import cost, loadgen, scenarios, workload
from bench.core import Bench
from bench.results import figure

BARE_VIEW_RATIO = 0.6  # of the bare view's req/s, at the same connections and gunicorn settings
BARE_VIEW_CPU_RATIO = 2  # API workers' CPU per request, at most this many times the bare view's
RABBITMQ_US_PER_EVENT = 50
P99_MS = 25
BATCH_EVENTS_PER_S = 50_000
LATENCY_CONNECTIONS = 64


def events_per_message(events: int, messages: int) -> float | None:
    """Mean events per broker message (None when nothing was published)."""
    return events / messages if messages else None


def run(b: Bench) -> None:
    s = b.sizes
    api = b.start_api()
    connections = scenarios.ingest_connections()
    singles = [api.post(body) for body in scenarios.single_event_bodies()]
    if s.http_warmup:
        api.load(singles, connections=connections, duration=1)  # publisher connections, caches
    b.stack.purge()
    setup = (
        f"`watchtime api` {scenarios.gunicorn_setup()}, group commit ({scenarios.group_wait_ms():g} ms wait), "
        "confirmed publish to RabbitMQ; load generator on the same 2 cores"
    )
    closed, rss, messages = [], [], []
    groups = {"API workers": cost.tree(lambda: api.process.pid, with_parent=False), "RabbitMQ": cost.live(cost.rabbitmq_pids)}
    for _ in range(s.repeats):
        with cost.Meter(b.stack, **groups) as meter:
            closed.append(api.load(singles, connections=connections, duration=s.ingest_seconds))
        messages.append(b.stack.purge())
        rss.append(api.worker_rss())
    # The last repeat's CPU (the purge between repeats costs RabbitMQ too). A request is one event.
    grouped = events_per_message(closed[-1].requests, messages[-1])
    cost.add(b, "single-event POST /", meter, closed[-1].requests, "request", targets={
        "API workers": {"raw_limit": b.limits.get("floor_bare_cpu"), "max_ratio": BARE_VIEW_CPU_RATIO},
        "RabbitMQ": {"at_most": RABBITMQ_US_PER_EVENT},
    }, setup=f"{setup}; wrk, closed loop, {connections} connections; {_mean(grouped)} events per message; "
             f"raw (API workers) = the bare view's CPU per request")
    b.add(figure(
        "ingest: single-event POST /, max throughput", [r.rps for r in closed], "req/s",
        raw_limit=b.limits.get("floor_bare"), min_ratio=BARE_VIEW_RATIO,
        setup=f"{setup}; wrk, closed loop, {connections} keep-alive connections, {loadgen.closed_loop_seconds(s.ingest_seconds)} s; "
              "raw = the bare Django view at the same connections and gunicorn settings",
    ))
    if sizes := group_sizes(closed, messages):
        b.add(figure(
            "ingest: events per message, single-event POST / at the max rate", sizes, "events",
            setup=f"{setup}; requests answered by wrk's closed loop over the messages they were published in "
                  f"({connections} connections: at most {scenarios.api_threads()} concurrent requests per worker to gather)",
        ))
    # Latency where the server keeps up: a fixed rate of half its measured maximum, judged on
    # the worst repeat (a target met in two runs of three is not met).
    half = statistics.median(r.rps for r in closed) / 2
    sustainable, half_messages = [], []
    for _ in range(s.repeats):
        sustainable.append(api.load_at_rate(singles, connections=LATENCY_CONNECTIONS, duration=s.ingest_seconds, rate=half))
        half_messages.append(b.stack.purge())
    half_setup = (
        f"{setup}; Python asyncio generator at a fixed rate of {half:.0f} req/s (half the measured maximum) over "
        f"{LATENCY_CONNECTIONS} connections, {s.ingest_seconds} s, latency from the intended send time; repeats: "
        + ", ".join(f"p50 {r.percentile_ms(50):.1f} / p99 {r.percentile_ms(99):.1f} ms" for r in sustainable)
    )
    b.add(figure("ingest: single-event POST / p50 at half the max rate", [r.percentile_ms(50) for r in sustainable], "ms", setup=half_setup))
    b.add(figure("ingest: single-event POST / p99 at half the max rate", [r.percentile_ms(99) for r in sustainable], "ms",
                 at_most=P99_MS, worst=True, setup=half_setup))
    if sizes := group_sizes(sustainable, half_messages):
        b.add(figure(
            "ingest: events per message, single-event POST / at half the max rate", sizes, "events",
            setup=f"{setup}; the fixed-rate load above: what a group holds when the API is not saturated",
        ))
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


def group_sizes(loads: list[loadgen.LoadResult], messages: list[int]) -> list[float]:
    """Events per message of each repeat that published anything (a single-event request is one event)."""
    return [e for load, m in zip(loads, messages, strict=True) if (e := events_per_message(load.requests, m)) is not None]


def _mean(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"
