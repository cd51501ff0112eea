"""Steady state: freshness (event lag of a running consumer) and memory (RSS over long runs)."""

from bench import live, loadgen, scenarios, workload
from bench.core import BATCH_MESSAGE_EVENTS, Bench
from bench.diagnose import wait_for
from bench.results import figure


def fresh_tables(b: Bench) -> None:
    """Empty the event tables: the read dataset's streams start over 30 days from BASE, so this
    section's heartbeats on the same streams would arrive before their heads (late events, the
    rule's slow path) instead of in order, as a player sends them."""
    from django.db import connections

    connections.close_all()
    b.stack.truncate_events()


def freshness(b: Bench) -> None:
    s = b.sizes
    fresh_tables(b)
    rate = max(100.0, (b.consumer_single or 2000) / 2)
    b.consumers.scale(1)
    port = b.consumers.started[0][1]
    samples, live_p99, probes = [], [], 0
    for _ in range(s.repeats):
        before, done_before = scenarios.lag_buckets(port), scenarios.applied(port)
        with live.Probes(b.stack) as probed:
            sent = scenarios.publish_at_rate(b.stack, rate, s.freshness_seconds, b.steps)
        sent += 2 * len(probed.delays)
        wait_for(lambda: scenarios.applied(port) >= done_before + sent, timeout=120,  # noqa: B023
                 what=f"the consumer to apply {sent} confirmed events (applied {done_before} before)",
                 diagnose=b.consumers.diagnosis)
        samples.append(scenarios.histogram_quantile(0.99, before, scenarios.lag_buckets(port)))
        live_p99.append(loadgen.percentile(probed.delays, 99))
        probes += len(probed.delays)
    b.consumers.close()
    b.add(figure(
        "freshness: a heartbeat counted live, p99 after its confirm", live_p99, "s", at_most=5.0,
        setup=f"during the run below, every 0.5 s a new stream's two heartbeats (10 s apart, the second credited) published "
              f"with confirms (the API's 202 waits for the same confirm), then the live count's condition (analytics.live) "
              f"polled in SQL every 10 ms until it includes the stream; {probes} probes over {s.repeats} runs",
    ))
    b.add(figure(
        "freshness: event lag p99 at half the max consumer rate", samples, "s", at_most=1.0,
        setup=f"single-event messages published (with confirms) at {rate:.0f}/s for {s.freshness_seconds} s (received_at = publish time) "
              "to 1 running consumer; p99 of watchtime_event_lag_seconds (histogram buckets, interpolated)",
    ))


def memory(b: Bench) -> None:
    s = b.sizes
    bodies = workload.messages(s.memory_events, per_message=BATCH_MESSAGE_EVENTS, streams=s.streams * 4, steps=b.steps)
    b.consumers.close()
    fresh_tables(b)
    rate, rss = scenarios.drain_with_rss(b.stack, bodies, s.memory_events)
    early = next(v for f, v in rss if f >= 0.1)  # warmed up: imports, connections, first batches
    late = max(v for f, v in rss if f >= 0.5)
    b.add(figure(
        f"memory: consumer RSS growth over {s.memory_events:,} events", [(late - early) / early * 100], "%", at_most=10,
        setup=f"RSS {early / 2**20:.0f} MiB at 10% of the run, max {late / 2**20:.0f} MiB in its second half; "
              f"{BATCH_MESSAGE_EVENTS}-event messages drained at {'?' if rate is None else f'{rate:.0f}'} events/s",
    ))
    if b.api_rss:
        single, batch = b.api_rss
        growth = max((single[-1] - single[0]) / single[0], (batch[-1] - batch[0]) / batch[0]) * 100
        mib = lambda values: ", ".join(f"{v / 2**20:.0f}" for v in values)  # noqa: E731
        b.add(figure(
            "memory: API worker RSS growth under sustained ingest", [growth], "%", at_most=10,
            setup=f"sum over {scenarios.api_workers()} workers after each round, MiB: single-event rounds {mib(single)}; "
                  f"1000-event-array rounds {mib(batch)}; growth = the larger of last vs first round of the same load",
        ))
