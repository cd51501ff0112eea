"""The watch-time rule as a pure function: the issue's worked examples, plus order/duplicate
independence of the incremental form checked on random streams."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchtime.rule.credit import Heartbeat, Limits, added_credit, chain_total, credit, stream_total

LIMITS = Limits(max_credit_seconds=120, max_step_seconds=15)
SECOND = 1_000_000


def make(at, ts=None, *, arrival, event_id=None):
    """A heartbeat at position `at` with wall clock `ts` seconds (or none), arriving `arrival`-th."""
    return Heartbeat(
        event_id=event_id or uuid.UUID(int=arrival + 1),
        at=at,
        ts_us=None if ts is None else ts * SECOND,
        key_us=(ts * SECOND) if ts is not None else 1_700_000_000 * SECOND + arrival * 1000,
    )


def arrive(spec):
    """`spec`: list of (at, ts) or (at, ts, event_id) in arrival order."""
    return [make(item[0], item[1], arrival=i, event_id=item[2] if len(item) > 2 else None) for i, item in enumerate(spec)]


def incremental_total(heartbeats):
    """The total as the consumer builds it: one heartbeat at a time via added_credit."""
    stored: list[Heartbeat] = []
    total = 0
    for hb in heartbeats:
        if any(s.event_id == hb.event_id for s in stored):
            continue  # the event log's uniqueness drops the duplicate
        before = [s for s in stored if s.key < hb.key]
        tail = ([max(before, key=lambda s: s.key)] if before else []) + sorted(
            (s for s in stored if s.key > hb.key), key=lambda s: s.key
        )
        total += added_credit(tail, [hb], LIMITS)
        stored.append(hb)
    return total


DUP = uuid.UUID(int=999)
LATE = uuid.UUID(int=998)

WORKED_EXAMPLES = [
    ("in order", [(0, 0), (10, 10), (20, 20), (30, 30)], 30),
    ("redelivered event", [(0, 0), (10, 10, DUP), (10, 10, DUP), (20, 20)], 20),
    ("paused", [(0, 0), (10, 10), (10, 20), (10, 30), (20, 40)], 20),
    ("seek forward", [(0, 0), (10, 10), (600, 20), (610, 30)], 31),
    ("rewind and rewatch", [(0, 0), (10, 10), (20, 20), (5, 30), (15, 40)], 30),
    ("late event", [(0, 0), (20, 20), (10, 10), (30, 30)], 30),
    ("late event from another id", [(0, 0), (11, 10), (10, 0, LATE)], 2),
    ("no ts, arrival order", [(0, None), (10, None), (20, None), (30, None)], 30),
    ("no ts, big jump", [(0, None), (600, None)], 15),
    ("resume at 3600", [(3600, 0), (3610, 10), (3620, 20)], 20),
]


@pytest.mark.parametrize(("spec", "expected"), [pytest.param(s, e, id=name) for name, s, e in WORKED_EXAMPLES])
def test_worked_examples(spec, expected):
    heartbeats = arrive(spec)
    assert stream_total(heartbeats, LIMITS) == expected
    assert incremental_total(heartbeats) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0), (10, 10), 10),
        ((10, 10), (10, 20), 0),  # pause
        ((20, 20), (5, 30), 0),  # rewind
        ((0, 0), (600, 20), 21),  # wall clock bounds a seek: floor(20) + 1
        ((0, 0), (1000, 500), 120),  # capped by max credit
        ((0, 10), (10, 0), 1),  # wall clock going backwards counts as 0 s, +1
        ((0, None), (600, 20), 15),  # one side without a clock: max step
    ],
)
def test_credit_of_one_pair(a, b, expected):
    assert credit(make(*a, arrival=0), make(*b, arrival=1), LIMITS) == expected


def test_fractional_wall_clock_is_floored():
    a = Heartbeat(uuid.UUID(int=1), 0, 0, 0)
    b = Heartbeat(uuid.UUID(int=2), 10, int(4.9 * SECOND), int(4.9 * SECOND))
    assert credit(a, b, LIMITS) == 5


def test_configured_limits_apply():
    heartbeats = arrive([(0, None), (600, None)])
    assert stream_total(heartbeats, Limits(max_credit_seconds=120, max_step_seconds=30)) == 30


def test_first_event_only_sets_the_baseline():
    assert stream_total(arrive([(3600, 0)]), LIMITS) == 0
    assert chain_total([], LIMITS) == 0


stream_events = st.lists(
    st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(0, 400))), min_size=1, max_size=25
)


@settings(max_examples=300, deadline=None)
@given(spec=stream_events, data=st.data())
def test_total_ignores_delivery_order_and_duplicates(spec, data):
    heartbeats = arrive(spec)
    reference = stream_total(heartbeats, LIMITS)
    duplicated = heartbeats + data.draw(st.lists(st.sampled_from(heartbeats), max_size=10))
    shuffled = data.draw(st.permutations(duplicated))
    assert stream_total(shuffled, LIMITS) == reference
    assert incremental_total(shuffled) == reference


@settings(max_examples=200, deadline=None)
@given(spec=stream_events, data=st.data())
def test_batches_in_any_split_match_one_at_a_time(spec, data):
    """added_credit with several new heartbeats at once equals adding them one by one."""
    heartbeats = data.draw(st.permutations(arrive(spec)))
    cut = data.draw(st.integers(0, len(heartbeats)))
    stored, new = heartbeats[:cut], heartbeats[cut:]
    ordered = sorted(stored, key=lambda h: h.key)
    if new and ordered:
        earliest = min(h.key for h in new)
        before = [h for h in ordered if h.key < earliest]
        tail = ([before[-1]] if before else []) + [h for h in ordered if h.key > earliest]
    else:
        tail = ordered[-1:]
    total = stream_total(stored, LIMITS) + added_credit(tail, new, LIMITS)
    assert total == stream_total(heartbeats, LIMITS)
