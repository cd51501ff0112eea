"""`python -m bench [--quick]`: measure raw limits, floors and watchtime's figures, write the results."""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import capacity, machine
from bench.core import FULL, QUICK, Bench, log
from bench.results import figure, write
from bench.sections import consumer, floors, ingest, raw, reads, steady
from bench.stack import Stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECTIONS = {
    "raw": raw.run,
    "floors": floors.run,
    "consumer": consumer.run,
    "ingest": ingest.run,
    "reads": reads.run,
    "freshness": steady.freshness,
    "memory": steady.memory,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--only", help=f"comma-separated sections of {tuple(SECTIONS)} (results go to --output)")
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
        for name, run in SECTIONS.items():
            if name in sections:
                log(f"{name} ...")
                run(bench)
        capacity_figures(bench)
        info["loadavg_end"] = machine.loadavg()
        info["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        info["duration_seconds"] = round(time.monotonic() - started, 1)
        json_path, md_path = write(args.output, info, bench.figures)
    finally:
        close(bench, stack)
    print(md_path.read_text())
    log(f"wrote {json_path} and {md_path} in {info['duration_seconds']} s")
    return 0


def capacity_figures(bench: Bench) -> None:
    """The capacity model's targets, from this run's costs (when the run measured them all)."""
    from dataclasses import asdict

    figures = [asdict(f) for f in bench.figures]
    try:
        costs = capacity.inputs(figures)
    except KeyError:
        log("capacity: not every input measured in this run, no capacity figures")
        return
    for name, value, target, setup in capacity.targets(costs):
        bench.add(figure(name, [value], "cores" if "cores" in name else "events/s", **target, setup=setup))


def close(bench: Bench | None, stack: Stack) -> None:
    from django.db import connections

    connections.close_all()
    try:
        if bench is not None:
            bench.close()
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
