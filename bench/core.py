"""The run's sizes and state: what every section reads and adds to."""

import sys
import time
from dataclasses import dataclass

from bench import diagnose, scenarios, workload
from bench.results import Figure
from bench.stack import Stack


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
    analytics_requests: int  # in-process, per analytics endpoint
    consumer_grouped: int  # events, GROUP_MESSAGE_EVENTS per message (each of distinct streams)
    grouped_streams: int  # streams of the grouped messages: more than a consumer batch holds events


FULL = Sizes(3, 20_000, 2_000, 30_000, 100_000, 30_000, 60_000, 30_000, 5_000, 10, 600, 3, 10_000, 1_000_000, 10, 1_000_000, True, 200,
             40_000, 20_000)
QUICK = Sizes(3, 2_000, 200, 3_000, 6_000, 2_000, 5_000, 2_000, 1_000, 0.5, 100, 0.25, 2_000, 20_000, 1, 10_000, False, 30,
              4_000, 2_000)
BATCH_MESSAGE_EVENTS = 100
# Events per message of the grouped workload, what the API publishes under group commit: fixed
# rather than taken from the ingest section's measured mean (6-13 events per message at 8-32
# threads per worker in the closed loop, fewer below saturation), so the consumer's figures are
# comparable from run to run and do not depend on the API's load; see docs/performance.md.
GROUP_MESSAGE_EVENTS = 10
READ_CONNECTIONS = 16


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, stack: Stack, sizes: Sizes):
        self.stack = stack
        self.sizes = sizes
        self.figures: list[Figure] = []
        self.limits: dict[str, float] = {}  # raw limits and floors, by key
        self.steps = workload.Steps()
        self.consumer_single: float | None = None
        self.api: scenarios.Api | None = None
        self.api_rss = None
        self.costs: dict[str, dict[str, float]] = {}  # label -> cost.Meter.per()
        self.consumers = scenarios.Consumers(stack)

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        log(f"  {fig.name}: {fig.value:.4g} {fig.unit} (target {fig.target or '-'}, met {fig.met})")
        return fig

    def repeat(self, measure) -> list:
        return [measure() for _ in range(self.sizes.repeats)]

    def start_api(self) -> scenarios.Api:
        if self.api is None:
            self.api = scenarios.Api(self.stack)
        return self.api

    def diagnosis(self) -> str:
        return diagnose.describe(self.stack, [port for _, port in self.consumers.started])

    def close(self) -> None:
        self.consumers.close()
