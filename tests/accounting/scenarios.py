"""Random viewing, as players produce it and as the network delivers it: heartbeats in order with
pauses, seeks, rewinds and long breaks (new views), some players without a wall clock; then
delivered shuffled, partly late, partly twice, in random batches."""

import random
import uuid
from datetime import UTC, datetime, timedelta

from tests.accounting.reference import Event
from watchtime.events.validation import EventIn
from watchtime.timestamps import to_us

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # two UTC days and many hours are crossed
DURATIONS = {"m0": 1800, "m1": 600, "m2": None, "m3": 7200}


def viewing(rng: random.Random, *, users: int = 6, streams: int = 14, t0: datetime = T0, spread: int = 8 * 3600) -> list[EventIn]:
    """`streams` streams starting within `spread` seconds of t0 (a premiere: a short spread)."""
    events = []
    for s in range(streams):
        user, slug = f"u{rng.randrange(users)}", rng.choice(sorted(DURATIONS))
        session = rng.choice(["", "a", "b"])
        with_clock = rng.random() < 0.8
        clock = rng.randrange(0, spread)
        position = rng.choice([0, 0, rng.randrange(0, 1500)])
        for _ in range(rng.randrange(3, 45)):
            roll = rng.random()
            if roll < 0.70:
                step_clock, step_position = 10, 10
            elif roll < 0.78:
                step_clock, step_position = 10, 0  # paused
            elif roll < 0.84:
                step_clock, step_position = 10, rng.randrange(60, 900)  # seek forward
            elif roll < 0.90:
                step_clock, step_position = 10, -rng.randrange(5, 120)  # rewind
            elif roll < 0.95:
                step_clock, step_position = rng.choice([1900, 4000, 90_000]), 10  # a break: a new view
            else:
                step_clock, step_position = rng.randrange(1, 30), rng.randrange(1, 30)
            clock += step_clock
            position = max(0, min(86400, position + step_position))
            moment = t0 + timedelta(seconds=clock)
            events.append(EventIn(
                event_id=uuid.UUID(int=rng.getrandbits(128)), user=user, slug=slug, at=position, session=f"{session}{s}",
                ts=moment if with_clock else None,
                received_at=moment + timedelta(milliseconds=rng.randrange(0, 500)),
            ))
    return events


def delivered(rng: random.Random, events: list[EventIn]) -> list[list[EventIn]]:
    """The same events shuffled, 10 % of them twice, cut into random batches."""
    sent = list(events) + rng.sample(events, len(events) // 10)
    rng.shuffle(sent)
    batches, i = [], 0
    while i < len(sent):
        size = rng.choice([1, 1, 2, 5, 17, 60])
        batches.append(sent[i : i + size])
        i += size
    return batches


def reference_events(events: list[EventIn]) -> list[Event]:
    return [
        Event(str(e.event_id), e.user, e.slug, e.session, e.at,
              to_us(e.ts) if e.ts is not None else to_us(e.received_at), None if e.ts is None else to_us(e.ts))
        for e in events
    ]
