"""Real `watchtime consumer` processes draining backlogs: single-event, grouped and 100-event
messages, one and two processes, and a premiere (every heartbeat on one movie).

The grouped messages are what the API now publishes (group commit): GROUP_MESSAGE_EVENTS events
of as many distinct streams per message, over more streams than a consumer batch holds events, so
a batch writes each stream's rows once, as at scale (a million viewers are a million streams, each
heard every 10 s). Their costs per event are the capacity model's consumer and PostgreSQL inputs.
"""

from bench import cost, workload
from bench.core import BATCH_MESSAGE_EVENTS, GROUP_MESSAGE_EVENTS, Bench
from bench.results import figure

SINGLE_RATIO = 0.15  # of the raw upsert rate
TWO_OVER_ONE = 1.6
BATCH_OVER_SINGLE = 1.5
PREMIERE_SLOWER_AT_MOST = 0.2
GROUPED_CPU_US = 200  # consumer + PostgreSQL CPU per event on grouped messages
GROUPED_WAL_BYTES = 1000  # WAL per event on grouped messages (100,000 events/s in 100 MB/s)


def run(b: Bench) -> None:
    s = b.sizes
    consumers = b.consumers
    upsert = b.limits.get("upsert")
    premiere_steps = workload.Steps()  # the premiere's streams are their own

    def drain(events, per_message, *, premiere=False, streams=s.streams):
        bodies = workload.messages(events, per_message=per_message, streams=streams,
                                   steps=premiere_steps if premiere else b.steps, premiere=premiere)
        return consumers.drain_rate(bodies, events)

    consumers.scale(1)
    # Warm-up runs create the users, movies and streams, as in steady state.
    drain(s.streams, 1)
    drain(s.streams, 1, premiere=True)
    drain(s.grouped_streams, GROUP_MESSAGE_EVENTS, streams=s.grouped_streams)

    def metered(label, events, per_message, *, streams=s.streams, targets=None):
        with cost.Meter(b.stack, **{"consumers": cost.live(lambda: [p.pid for p, _ in consumers.started]),
                                    "PostgreSQL": cost.postgres(b.stack)}) as meter:
            rates = b.repeat(lambda: drain(events, per_message, streams=streams))
        per = cost.add(b, label, meter, events * len(rates), "event", targets=targets)
        return rates, per

    rates, _ = metered("1 consumer, single-event messages", s.consumer_single, 1)
    single = b.add(figure(
        "consumer: 1 process, single-event messages", rates, "events/s",
        raw_limit=upsert, min_ratio=SINGLE_RATIO,
        setup=f"`watchtime consumer` (its default prefetch and batch) draining {s.consumer_single} messages queued (with confirms) "
              f"while it was paused, over {s.streams} streams; raw = upsert",
    ))
    b.consumer_single = single.value
    grouped = f"{GROUP_MESSAGE_EVENTS}-event messages"
    grouped_setup = (f"{s.consumer_grouped} events queued as {grouped}, each of {GROUP_MESSAGE_EVENTS} distinct streams "
                     f"(what the API publishes under group commit), over {s.grouped_streams} streams")
    rates, _ = metered(f"1 consumer, {grouped}", s.consumer_grouped, GROUP_MESSAGE_EVENTS, streams=s.grouped_streams)
    one_grouped = b.add(figure(
        f"consumer: 1 process, {grouped}", rates, "events/s", raw_limit=upsert,
        setup=f"`watchtime consumer` (its default prefetch and batch) draining {grouped_setup}; raw = upsert",
    ))
    rates, _ = metered(f"1 consumer, {BATCH_MESSAGE_EVENTS}-event messages", s.consumer_batch, BATCH_MESSAGE_EVENTS)
    b.add(figure(
        f"consumer: 1 process, {BATCH_MESSAGE_EVENTS}-event messages", rates, "events/s",
        at_least=BATCH_OVER_SINGLE * single.value, raw_limit=upsert,
        setup=f"{s.consumer_batch} events queued as {BATCH_MESSAGE_EVENTS}-event messages; target: {BATCH_OVER_SINGLE} x single-event messages; raw = upsert",
    ))
    consumers.scale(2)
    rates, _ = metered("2 consumers, single-event messages", s.consumer_two, 1)
    two = b.add(figure(
        "consumer: 2 processes, single-event messages", rates, "events/s",
        at_least=TWO_OVER_ONE * single.value, raw_limit=upsert,
        setup=f"two consumers draining {s.consumer_two} queued messages over {s.streams} streams on {workload.MOVIES} movies; "
              f"target: {TWO_OVER_ONE} x one process; raw = upsert",
    ))
    rates, per = metered(f"2 consumers, {grouped}", s.consumer_grouped, GROUP_MESSAGE_EVENTS, streams=s.grouped_streams,
                         targets={"WAL": {"at_most": GROUPED_WAL_BYTES}})
    b.add(figure(
        f"cost per event, 2 consumers, {grouped}: consumers + PostgreSQL CPU", [per["consumers cpu"] + per["PostgreSQL cpu"]],
        "µs/event", at_most=GROUPED_CPU_US, setup="the two figures above, summed: the apply path's CPU per event"))
    b.add(figure(
        f"consumer: 2 processes, {grouped}", rates, "events/s", at_least=TWO_OVER_ONE * one_grouped.value, raw_limit=upsert,
        setup=f"two consumers draining {grouped_setup}; target: {TWO_OVER_ONE} x one process on the same messages; raw = upsert",
    ))
    b.add(figure(
        "consumer: 2 processes, single-event messages, premiere", b.repeat(lambda: drain(s.consumer_two, 1, premiere=True)),
        "events/s", at_least=(1 - PREMIERE_SLOWER_AT_MOST) * two.value, raw_limit=upsert,
        setup=f"as the two-process single-event line, but all {s.streams} streams (one user each) on one movie; "
              f"target: at most {PREMIERE_SLOWER_AT_MOST:.0%} below spread out; raw = upsert",
    ))
    consumers.close()
