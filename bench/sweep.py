"""`python -m bench.sweep`: single-event ingest under group commit at several gunicorn thread counts
and group waits, each against the bare Django view at the same threads and connections, in one run
-> bench/results/sweep.{json,md} (or --output). What the product's defaults for GUNICORN_THREADS
and WATCHTIME_PUBLISH_GROUP_MILLISECONDS were chosen from; the full bench measures the defaults only.

For each thread count T (2 workers): the bare view at 2 x T connections (req/s, workers' CPU per
request); then for each group wait W a fresh `watchtime api` with T threads and W ms: a closed loop
at 2 x T connections (req/s, API workers' and RabbitMQ's CPU per request, events per message), then
a fixed rate of half that maximum over 64 connections (p50, p99, events per message). One repeat of
each: a sweep shows the shape, the full bench's figures are the medians.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import cost, loadgen, scenarios
from bench.core import FULL, Bench, log
from bench.sections.floors import Floor
from bench.sections.ingest import LATENCY_CONNECTIONS, events_per_message
from bench.stack import Stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def row_markdown(rows: list[dict]) -> str:
    lines = [
        "| Threads per worker | Connections | Group wait | Bare view req/s | Bare view CPU µs/req | POST / req/s | Ratio to bare "
        "| API CPU µs/req | Ratio to bare | RabbitMQ CPU µs/event | Events/message at max | p50 / p99 at half (ms) "
        "| Events/message at half |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threads']} | {r['connections']} | {r['group_ms']} ms | {r['bare_rps']:,.0f} | {r['bare_cpu_us']:,.0f} "
            f"| {r['rps']:,.0f} | {r['rps'] / r['bare_rps']:.2f} | {r['api_cpu_us']:,.0f} | {r['api_cpu_us'] / r['bare_cpu_us']:.2f} "
            f"| {r['rabbitmq_cpu_us']:,.0f} | {_n(r['events_per_message'])} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} "
            f"| {_n(r['events_per_message_half'])} |"
        )
    return "\n".join(lines) + "\n"


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def sweep(b: Bench, threads: list[int], waits: list[int], seconds: float) -> list[dict]:
    workers = scenarios.api_workers()
    rows = []
    for t in threads:
        connections = workers * t
        floor = Floor(b, GUNICORN_THREADS=str(t))
        try:
            bare = [loadgen.build_request("GET", "/bare", host=floor.host)]
            floor.load(bare, 1, connections)
            with cost.Meter(b.stack, workers=floor.workers()) as meter:
                result = floor.load(bare, seconds, connections)
            bare_rps, bare_cpu = result.rps, meter.per(result.requests)["workers cpu"]
        finally:
            floor.close()
        log(f"{t} threads: bare view {bare_rps:,.0f} req/s, {bare_cpu:,.0f} µs/request")
        for w in waits:
            api = scenarios.Api(b.stack, GUNICORN_THREADS=str(t), WATCHTIME_PUBLISH_GROUP_MILLISECONDS=str(w))
            try:
                singles = [api.post(body) for body in scenarios.single_event_bodies()]
                api.load(singles, connections=connections, duration=1)
                b.stack.purge()
                groups = {"api": cost.tree(lambda: api.process.pid, with_parent=False),  # noqa: B023
                          "rabbitmq": cost.live(cost.rabbitmq_pids)}
                with cost.Meter(b.stack, **groups) as meter:
                    closed = api.load(singles, connections=connections, duration=seconds)
                messages = b.stack.purge()
                per = meter.per(closed.requests)
                half = api.load_at_rate(singles, connections=LATENCY_CONNECTIONS, duration=seconds, rate=closed.rps / 2)
                half_messages = b.stack.purge()
            finally:
                b.stack.stop(api.process)
            row = {"threads": t, "connections": connections, "group_ms": w, "bare_rps": bare_rps, "bare_cpu_us": bare_cpu,
                   "rps": closed.rps, "api_cpu_us": per["api cpu"], "rabbitmq_cpu_us": per["rabbitmq cpu"],
                   "events_per_message": events_per_message(closed.requests, messages),
                   "p50_ms": half.percentile_ms(50), "p99_ms": half.percentile_ms(99),
                   "events_per_message_half": events_per_message(half.requests, half_messages)}
            log(f"  {w} ms: {row}")
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="8,32", help="gunicorn threads per worker, comma-separated")
    parser.add_argument("--group-ms", default="2,5,10,20", help="WATCHTIME_PUBLISH_GROUP_MILLISECONDS values, comma-separated")
    parser.add_argument("--seconds", type=float, default=5, help="length of each closed-loop and fixed-rate load")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    threads = [int(x) for x in args.threads.split(",")]
    waits = [int(x) for x in args.group_ms.split(",")]
    started = time.monotonic()
    stack = Stack()
    os.environ.update(stack.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "watchtime.settings"
    stack.create()
    b = Bench(stack, FULL)
    try:
        load_start = os.getloadavg()
        rows = sweep(b, threads, waits, args.seconds)
    finally:
        b.close()
        stack.close()
    info = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": args.seconds,
            "workers": scenarios.api_workers(), "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()], "duration_seconds": round(time.monotonic() - started, 1)}
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "sweep.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    text = (f"Sweep of {info['finished_at']}: {info['workers']} workers, {args.seconds:g} s loads, one repeat each, load average "
            f"{info['loadavg_start']} at start, {info['loadavg_end']} at end.\n\n" + row_markdown(rows))
    (args.output / "sweep.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
