"""Real `watchtime consumer` processes draining backlogs: single-event and 100-event messages,
one and two processes, and a premiere (every heartbeat on one movie)."""

from bench import cost, workload
from bench.core import BATCH_MESSAGE_EVENTS, Bench
from bench.results import figure

SINGLE_RATIO = 0.15  # of the raw upsert rate
TWO_OVER_ONE = 1.6
BATCH_OVER_SINGLE = 1.5
PREMIERE_SLOWER_AT_MOST = 0.2


def run(b: Bench) -> None:
    s = b.sizes
    consumers = b.consumers
    upsert = b.limits.get("upsert")
    premiere_steps = workload.Steps()  # the premiere's streams are their own

    def drain(events, per_message, *, premiere=False):
        bodies = workload.messages(events, per_message=per_message, streams=s.streams,
                                   steps=premiere_steps if premiere else b.steps, premiere=premiere)
        return consumers.drain_rate(bodies, events)

    consumers.scale(1)
    # Warm-up runs create the users, movies and streams, as in steady state.
    drain(s.streams, 1)
    drain(s.streams, 1, premiere=True)
    def metered(label, events, per_message):
        with cost.Meter(b.stack, **{"consumers": cost.live(lambda: [p.pid for p, _ in consumers.started]),
                                    "PostgreSQL": cost.postgres(b.stack)}) as meter:
            rates = b.repeat(lambda: drain(events, per_message))
        cost.add(b, label, meter, events * len(rates), "event")
        return rates

    single = b.add(figure(
        "consumer: 1 process, single-event messages", metered("1 consumer, single-event messages", s.consumer_single, 1), "events/s",
        raw_limit=upsert, min_ratio=SINGLE_RATIO,
        setup=f"`watchtime consumer` (its default prefetch and batch) draining {s.consumer_single} messages queued (with confirms) "
              f"while it was paused, over {s.streams} streams; raw = upsert",
    ))
    b.consumer_single = single.value
    b.add(figure(
        f"consumer: 1 process, {BATCH_MESSAGE_EVENTS}-event messages",
        metered(f"1 consumer, {BATCH_MESSAGE_EVENTS}-event messages", s.consumer_batch, BATCH_MESSAGE_EVENTS), "events/s",
        at_least=BATCH_OVER_SINGLE * single.value, raw_limit=upsert,
        setup=f"{s.consumer_batch} events queued as {BATCH_MESSAGE_EVENTS}-event messages; target: {BATCH_OVER_SINGLE} x single-event messages; raw = upsert",
    ))
    consumers.scale(2)
    two = b.add(figure(
        "consumer: 2 processes, single-event messages", metered("2 consumers, single-event messages", s.consumer_two, 1), "events/s",
        at_least=TWO_OVER_ONE * single.value, raw_limit=upsert,
        setup=f"two consumers draining {s.consumer_two} queued messages over {s.streams} streams on {workload.MOVIES} movies; "
              f"target: {TWO_OVER_ONE} x one process; raw = upsert",
    ))
    b.add(figure(
        "consumer: 2 processes, single-event messages, premiere", b.repeat(lambda: drain(s.consumer_two, 1, premiere=True)),
        "events/s", at_least=(1 - PREMIERE_SLOWER_AT_MOST) * two.value, raw_limit=upsert,
        setup=f"as the line above, but all {s.streams} streams (one user each) on one movie; "
              f"target: at most {PREMIERE_SLOWER_AT_MOST:.0%} below spread out; raw = upsert",
    ))
    consumers.close()
