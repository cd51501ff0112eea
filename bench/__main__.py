"""`python -m bench [--quick]`: measure raw limits and watchtime's figures, write the results."""

import argparse
import os
import statistics
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import loadgen, machine, raw, scenarios, workload
from bench.results import Figure, figure, write
from bench.stack import Stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECTIONS = ("raw", "consumer", "ingest", "reads", "freshness", "memory")


@dataclass(frozen=True)
class Sizes:
    repeats: int
    raw_publish: int
    raw_publish_confirmed: int
    raw_consume: int
    raw_upsert: int
    consumer_single: int  # events, one per message
    consumer_batch: int  # events, BATCH_MESSAGE_EVENTS per message
    consumer_two: int
    streams: int
    ingest_seconds: float
    read_requests: int  # in-process, per endpoint
    read_seconds: float  # over HTTP, per endpoint
    read_small: int  # events in the read dataset
    read_large: int
    freshness_seconds: float
    memory_events: int
    http_warmup: bool  # one closed-loop second before the HTTP figures (wrk's shortest run)


FULL = Sizes(3, 20_000, 2_000, 30_000, 100_000, 30_000, 60_000, 30_000, 5_000, 10, 600, 3, 10_000, 1_000_000, 10, 1_000_000, True)
QUICK = Sizes(3, 2_000, 200, 3_000, 6_000, 2_000, 5_000, 2_000, 1_000, 0.5, 100, 0.25, 2_000, 20_000, 1, 10_000, False)
BATCH_MESSAGE_EVENTS = 100
INGEST_RATE = 2000  # req/s, the target, for the fixed-rate latency run
INGEST_TARGET_RPS = 2000
READ_CONNECTIONS = 16
ENDPOINTS = ("user", "movie", "user-movie")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--only", help=f"comma-separated sections of {SECTIONS} (results go to --output)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    if unknown := sections - set(SECTIONS):
        parser.error(f"unknown sections: {sorted(unknown)}")

    started = time.monotonic()
    stack = Stack()
    os.environ.update(stack.env)  # the in-process reads use the same database
    os.environ["DJANGO_SETTINGS_MODULE"] = "watchtime.settings"
    log(f"database {stack.db_name}, queue {stack.queue}, {'quick' if args.quick else 'full'} mode")
    stack.create()
    bench = None
    try:
        info = machine.describe(stack)
        info["mode"] = "quick" if args.quick else "full"
        info["repeats"] = sizes.repeats
        bench = Bench(stack, sizes)
        for section in SECTIONS:
            if section in sections:
                log(f"{section} ...")
                getattr(bench, section)()
        info["loadavg_end"] = machine.loadavg()
        info["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        info["duration_seconds"] = round(time.monotonic() - started, 1)
        json_path, md_path = write(args.output, info, bench.figures)
    finally:
        bench_close(bench, stack)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path} in {info['duration_seconds']} s")
    return 0


def bench_close(bench, stack: Stack) -> None:
    from django.db import connections

    connections.close_all()
    try:
        if bench is not None:
            bench.consumers.close()
    finally:
        stack.close()


class Bench:
    def __init__(self, stack: Stack, sizes: Sizes):
        self.stack = stack
        self.sizes = sizes
        self.figures: list[Figure] = []
        self.limits: dict[str, float] = {}
        self.steps = workload.Steps()
        self.consumer_single = None
        self.api = None
        self.consumers = scenarios.Consumers(stack)

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        log(f"  {fig.name}: {fig.value:.4g} {fig.unit} (target {fig.target or '-'})")
        return fig

    def repeat(self, measure) -> list:
        return [measure() for _ in range(self.sizes.repeats)]

    # raw limits -----------------------------------------------------------------------------

    def raw(self) -> None:
        s = self.sizes
        body = workload.message(workload.events(1, streams=1, first_step=0))
        setup = f"pika BlockingConnection, persistent {len(body)} B messages, durable quorum queue"
        for key, count, confirm in (("publish", s.raw_publish, False), ("publish_confirmed", s.raw_publish_confirmed, True)):
            samples = self.repeat(lambda: raw.publish_rate(self.stack, body, count, confirm_each=confirm))
            name = "raw: publish, no confirms" if not confirm else "raw: publish, waiting for each confirm"
            self.limits[key] = self.add(figure(name, samples, "msg/s", setup=f"{setup}; {count} messages")).value
        samples = self.repeat(lambda: raw.consume_rate(self.stack, body, s.raw_consume))
        self.limits["consume"] = self.add(
            figure("raw: consume, prefetch 1000, multiple-ack per 500", samples, "msg/s", setup=f"{setup}; {s.raw_consume} messages")
        ).value
        samples = self.repeat(lambda: raw.upsert_rate(self.stack, s.raw_upsert))
        self.limits["upsert"] = self.add(
            figure(
                "raw: PostgreSQL INSERT .. ON CONFLICT DO UPDATE, 500-row statements", samples, "rows/s",
                setup=f"psycopg2 execute_values, a commit per statement, uuid key + 1 index, {s.raw_upsert} rows",
            )
        ).value

    # consumer -------------------------------------------------------------------------------

    def consumer(self) -> None:
        s = self.sizes
        bound = min(self.limits.get("consume", 0), self.limits.get("upsert", 0)) or None

        consumers = self.consumers

        def run(events, per_message):
            bodies = workload.messages(events, per_message=per_message, streams=s.streams, steps=self.steps)
            return consumers.drain_rate(bodies, events)

        consumers.scale(1)
        # One warm-up run creates the users, movies and streams, as in steady state.
        run(s.streams, 1)
        single = self.add(
            figure(
                "consumer: 1 process, single-event messages", self.repeat(lambda: run(s.consumer_single, 1)), "events/s",
                at_least=10_000, raw_limit=bound,
                setup=f"`watchtime consumer` (prefetch 1000, batch 500) draining {s.consumer_single} messages queued while it was paused, over {s.streams} streams; target also >= 50% of min(raw consume, raw upsert)",
            )
        )
        if bound:
            single.met = single.met and single.ratio_to_raw >= 0.5
        self.consumer_single = single.value
        self.add(
            figure(
                f"consumer: 1 process, {BATCH_MESSAGE_EVENTS}-event messages",
                self.repeat(lambda: run(s.consumer_batch, BATCH_MESSAGE_EVENTS)), "events/s",
                at_least=single.value, raw_limit=self.limits.get("upsert"),
                setup=f"{s.consumer_batch} events queued as {BATCH_MESSAGE_EVENTS}-event messages; target: more than single-event messages; raw = upsert",
            )
        )
        self.add(
            figure(
                "consumer: 2 processes, single-event messages",
                self.repeat(lambda: consumers.scale(2) or run(s.consumer_two, 1)), "events/s",
                at_least=single.value, raw_limit=self.limits.get("upsert"),
                setup=f"two consumers draining {s.consumer_two} queued messages; target: more than one process; raw = upsert",
            )
        )
        consumers.close()

    # ingest ---------------------------------------------------------------------------------

    def start_api(self) -> scenarios.Api:
        if self.api is None:
            self.api = scenarios.Api(self.stack)
        return self.api

    def ingest(self) -> None:
        s = self.sizes
        api = self.start_api()
        singles = [api.post(b) for b in scenarios.single_event_bodies()]
        if s.http_warmup:
            api.load(singles, connections=16, duration=1)  # publisher connections, caches
        self.stack.purge()
        setup = (
            f"`watchtime api` gunicorn gthread {scenarios.API_WORKERS} workers x {scenarios.API_THREADS} threads, "
            "confirmed publish to RabbitMQ; load generator on the same 2 cores"
        )
        closed, fixed, rss = [], [], []
        for _ in range(s.repeats):
            closed.append(api.load(singles, connections=16, duration=s.ingest_seconds))
            fixed.append(api.load_at_rate(singles, connections=64, duration=s.ingest_seconds, rate=INGEST_RATE))
            self.stack.purge()
            rss.append(api.worker_rss())
        self.add(
            figure(
                "ingest: single-event POST /, max throughput", [r.rps for r in closed], "req/s",
                at_least=INGEST_TARGET_RPS, raw_limit=self.limits.get("publish"),
                setup=f"{setup}; wrk, closed loop, 16 keep-alive connections, {loadgen.closed_loop_seconds(s.ingest_seconds)} s; raw = publish without confirms",
            )
        )
        fixed_setup = (
            f"{setup}; Python asyncio generator at a fixed rate of {INGEST_RATE} req/s over 64 connections, {s.ingest_seconds} s, "
            f"latency from the intended send time (achieved {min(r.rps for r in fixed):.0f}-{max(r.rps for r in fixed):.0f} req/s)"
        )
        self.add(figure(f"ingest: single-event POST / p50 at {INGEST_RATE} req/s", [r.percentile_ms(50) for r in fixed], "ms", setup=fixed_setup))
        self.add(
            figure(f"ingest: single-event POST / p99 at {INGEST_RATE} req/s", [r.percentile_ms(99) for r in fixed], "ms", at_most=25, setup=fixed_setup)
        )
        # Latency where the server keeps up: a fixed rate of half its measured maximum.
        half = statistics.median(r.rps for r in closed) / 2
        sustainable = []
        for _ in range(s.repeats):
            sustainable.append(api.load_at_rate(singles, connections=64, duration=s.ingest_seconds, rate=half))
            self.stack.purge()
        half_setup = (
            f"{setup}; Python asyncio generator at a fixed rate of {half:.0f} req/s (half the measured maximum) over 64 connections, "
            f"{s.ingest_seconds} s, latency from the intended send time"
        )
        self.add(figure("ingest: single-event POST / p50 at half the max rate", [r.percentile_ms(50) for r in sustainable], "ms", setup=half_setup))
        self.add(figure("ingest: single-event POST / p99 at half the max rate", [r.percentile_ms(99) for r in sustainable], "ms", at_most=25, setup=half_setup))
        batches = [api.post(workload.client_batch(1000, offset=i * 1000)) for i in range(5)]
        results, batch_rss = [], []
        for _ in range(s.repeats):
            results.append(api.load(batches, connections=4, duration=s.ingest_seconds))
            self.stack.purge()
            batch_rss.append(api.worker_rss())
        self.add(
            figure(
                "ingest: POST / of 1000-event arrays", [r.rps * 1000 for r in results], "events/s", at_least=50_000,
                setup=f"{setup}; wrk, closed loop, 4 connections, {loadgen.closed_loop_seconds(s.ingest_seconds)} s, ~{len(batches[0]) // 1024} KiB bodies",
            )
        )
        # Flat means: repeating the same load does not grow it. Compare the last round of each
        # kind with its first (after which threads, pools, caches and arenas exist).
        self.api_rss = (rss, batch_rss)

    # reads ----------------------------------------------------------------------------------

    def reads(self) -> None:
        import django

        django.setup()
        from django.db import connections
        from django.test import Client

        s = self.sizes
        api = self.start_api()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {self.stack.api_key}")
        measured: dict[int, dict[str, dict[str, float]]] = {}
        for size in (s.read_small, s.read_large):
            connections.close_all()
            self.stack.truncate_events()
            began = time.monotonic()
            with closing(self.stack.connect()) as conn:
                shape = workload.build_read_dataset(conn, size)
            # Steady state, as autovacuum leaves tables in production: otherwise it and the
            # checkpointer work through the fresh rows during the measurement.
            self.stack.sql("VACUUM ANALYZE")
            self.stack.sql("CHECKPOINT")
            log(f"  dataset of {shape['events']} events built in {time.monotonic() - began:.1f} s")
            paths = scenarios.read_paths(self.stack)
            measured[size] = {}
            label = f"{size:,} events"
            if s.http_warmup:  # one over every endpoint: the workers' code paths, connections, caches
                api.load([api.get(p) for e in ENDPOINTS for p in paths[e]], connections=READ_CONNECTIONS, duration=1)
            for endpoint in ENDPOINTS:
                scenarios.in_process_latencies(client, paths[endpoint], 50)  # warm-up
                runs = [scenarios.in_process_latencies(client, paths[endpoint], s.read_requests) for _ in range(s.repeats)]
                requests = [api.get(p) for p in paths[endpoint]]
                http = [api.load(requests, connections=READ_CONNECTIONS, duration=s.read_seconds) for _ in range(s.repeats)]
                setup = f"{shape['events']:,} events, {shape['users']:,} users, {shape['movies']} movies, {shape['streams']:,} streams"
                p50 = self.add(figure(f"read {endpoint}: in-process p50 @ {label}", [loadgen.percentile(r, 50) * 1000 for r in runs], "ms", at_most=2,
                                      setup=f"Django test client in the bench process, {s.read_requests} requests over 200 keys; {setup}"))
                self.add(figure(f"read {endpoint}: in-process p99 @ {label}", [loadgen.percentile(r, 99) * 1000 for r in runs], "ms", at_most=5, setup=p50.setup))
                rps = self.add(figure(f"read {endpoint}: req/s, 16 connections @ {label}", [r.rps for r in http], "req/s", at_least=2000,
                                      setup=f"gunicorn {scenarios.API_WORKERS}x{scenarios.API_THREADS}, wrk, closed loop, {READ_CONNECTIONS} keep-alive connections, {loadgen.closed_loop_seconds(s.read_seconds)} s; HTTP p99 {min(r.percentile_ms(99) for r in http):.1f}-{max(r.percentile_ms(99) for r in http):.1f} ms; {setup}"))
                measured[size][endpoint] = {"p50": p50.value, "rps": rps.value}
        small, large = measured[s.read_small], measured[s.read_large]
        for endpoint in ENDPOINTS:
            ratio = large[endpoint]["p50"] / small[endpoint]["p50"]
            self.add(figure(f"read {endpoint}: p50 ratio {s.read_large:,} / {s.read_small:,} events", [ratio], "x", at_most=1.2,
                            setup="in-process p50 at the large dataset over the small one"))
            ratio = small[endpoint]["rps"] / large[endpoint]["rps"]
            self.add(figure(f"read {endpoint}: req/s ratio {s.read_small:,} / {s.read_large:,} events", [ratio], "x", at_most=1.2,
                            setup="16-connection req/s at the small dataset over the large one"))
        connections.close_all()

    # freshness ------------------------------------------------------------------------------

    def freshness(self) -> None:
        s = self.sizes
        rate = max(100.0, (self.consumer_single or 2000) / 2)
        self.consumers.scale(1)
        port = self.consumers.started[0][1]
        samples = []
        for _ in range(s.repeats):
            before, done_before = scenarios.lag_buckets(port), scenarios.applied(port)
            sent = scenarios.publish_at_rate(self.stack, rate, s.freshness_seconds, self.steps)
            scenarios.wait_until(lambda: scenarios.applied(port) >= done_before + sent, timeout=120, message="the consumer to catch up")
            samples.append(scenarios.histogram_quantile(0.99, before, scenarios.lag_buckets(port)))
        self.consumers.close()
        self.add(
            figure(
                "freshness: event lag p99 at half the max consumer rate", samples, "s", at_most=1.0,
                setup=f"single-event messages published at {rate:.0f}/s for {s.freshness_seconds} s (received_at = publish time) to 1 running consumer; p99 of watchtime_event_lag_seconds (histogram buckets, interpolated)",
            )
        )

    # memory ---------------------------------------------------------------------------------

    def memory(self) -> None:
        s = self.sizes
        bodies = workload.messages(s.memory_events, per_message=BATCH_MESSAGE_EVENTS, streams=s.streams * 4, steps=self.steps)
        self.consumers.close()
        rate, rss = scenarios.drain_with_rss(self.stack, bodies, s.memory_events)
        early = next(b for f, b in rss if f >= 0.1)  # warmed up: imports, connections, first batches
        late = max(b for f, b in rss if f >= 0.5)
        growth = (late - early) / early * 100
        self.add(
            figure(
                f"memory: consumer RSS growth over {s.memory_events:,} events", [growth], "%", at_most=10,
                setup=f"RSS {early / 2**20:.0f} MiB at 10% of the run, max {late / 2**20:.0f} MiB in its second half; {BATCH_MESSAGE_EVENTS}-event messages drained at {'?' if rate is None else f'{rate:.0f}'} events/s",
            )
        )
        if getattr(self, "api_rss", None):
            single, batch = self.api_rss
            growth = max((single[-1] - single[0]) / single[0], (batch[-1] - batch[0]) / batch[0]) * 100
            mib = lambda values: ", ".join(f"{v / 2**20:.0f}" for v in values)  # noqa: E731
            self.add(
                figure(
                    "memory: API worker RSS growth under sustained ingest", [growth], "%", at_most=10,
                    setup=f"sum over {scenarios.API_WORKERS} workers after each round, MiB: single-event rounds {mib(single)}; "
                    f"1000-event-array rounds {mib(batch)}; growth = the larger of last vs first round of the same load",
                )
            )

if __name__ == "__main__":
    sys.exit(main())
