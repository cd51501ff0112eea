"""Attribution, as worked tables: a pair's credit belongs to the UTC hour and day of its later
heartbeat's key, and a late heartbeat moves credit between buckets (the pair it comes between
leaves its bucket, its two new pairs enter theirs), so the buckets stay what the whole stream gives.

Times in the tables are seconds after T (2026-01-01T00:00:00Z); every heartbeat carries a wall
clock unless said otherwise, and the limits are the defaults (120 s per pair with clocks, 15 s
without)."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchtime.rule.attribution import DAY_US, HOUR_US, day_of, hour_of, pair_changes, pairs
from watchtime.rule.credit import Heartbeat, Limits, added_credit
from watchtime.rule.zones import quarter_of

LIMITS = Limits(max_credit_seconds=120, max_step_seconds=15)
SECOND = 1_000_000
T = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * SECOND
H0 = hour_of(T)  # the hour of T (T is midnight: also the first hour of day D0)
D0 = day_of(T)


def hb(at: int, ts: float | None, n: int, *, key: float | None = None) -> Heartbeat:
    """Heartbeat n at position `at`, wall clock `ts` s after T; `key` (s after T) is its receive
    time when it has no clock."""
    key_s = ts if ts is not None else key
    return Heartbeat(
        event_id=uuid.UUID(int=n),
        at=at,
        ts_us=None if ts is None else T + int(ts * SECOND),
        key_us=T + int(key_s * SECOND),
    )


def by_key(heartbeats) -> list[Heartbeat]:
    return sorted(heartbeats, key=lambda h: h.key)


def stored_tail(stored: list[Heartbeat], new: list[Heartbeat]) -> list[Heartbeat]:
    """What the apply path reads (events.log.stored_tail): from the last stored heartbeat before the
    earliest new one (if any) to the end, by key."""
    stored = by_key(stored)
    earliest = min(h.key for h in new)
    before = [h for h in stored if h.key < earliest]
    return before[-1:] + [h for h in stored if h.key > earliest]


def credit_by(bucket, heartbeats) -> dict[int, int]:
    """Credit per bucket (hour_of or day_of) of a whole stream, zeros dropped."""
    out: dict[int, int] = defaultdict(int)
    for p in pairs(by_key(heartbeats), LIMITS):
        out[bucket(p.b.key_us)] += p.credit
    return {k: v for k, v in out.items() if v}


# --- hour and day of a key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_us", "hour", "day"),
    [
        pytest.param(T, H0, D0, id="midnight is the first hour of its day"),
        pytest.param(T - 1, H0 - 1, D0 - 1, id="one microsecond before midnight is the day before"),
        pytest.param(T + HOUR_US - 1, H0, D0, id="last microsecond of the hour"),
        pytest.param(T + HOUR_US, H0 + 1, D0, id="next hour starts exactly on the hour"),
        pytest.param(T + DAY_US, H0 + 24, D0 + 1, id="next day starts exactly at midnight"),
        pytest.param(0, 0, 0, id="the epoch"),
    ],
)
def test_hour_and_day_of_a_key(key_us, hour, day):
    assert (hour_of(key_us), day_of(key_us)) == (hour, day)


# --- a pair's credit belongs to the hour of its later heartbeat -------------------------------

PAIR_BUCKETS = [
    # a -> b, credit = min(played, wall + 1, 120), in the hour/day of b's key.
    ("both in one hour", hb(0, 60, 1), hb(10, 70, 2), 10, H0, D0),
    # a at 00:59:55, b at 01:00:05: played 10, wall 10 s + 1 -> 10, in hour 1 (b's), not hour 0.
    ("crosses the hour: the later heartbeat's hour", hb(0, 3595, 1), hb(10, 3605, 2), 10, H0 + 1, D0),
    # a at 23:59:50 of the day before, b at 00:00:10: 20 played, wall 20 + 1 -> 20, on day D0.
    ("crosses midnight: the later heartbeat's day", hb(0, -10, 1), hb(20, 10, 2), 20, H0, D0),
    # b exactly on the hour belongs to the hour it starts.
    ("b exactly on the hour", hb(0, 3590, 1), hb(10, 3600, 2), 10, H0 + 1, D0),
    # no clock on b: its key is its receive time, 01:00:02; credit min(played 30, 15).
    ("no clock: the receive time is the key", hb(0, 3590, 1), hb(30, None, 2, key=3602), 15, H0 + 1, D0),
]


@pytest.mark.parametrize(("a", "b", "credit", "hour", "day"), [pytest.param(*row[1:], id=row[0]) for row in PAIR_BUCKETS])
def test_a_pair_is_credited_in_the_bucket_of_its_later_heartbeat(a, b, credit, hour, day):
    (pair,) = pairs([a, b], LIMITS)
    assert (pair.credit, hour_of(pair.b.key_us), day_of(pair.b.key_us)) == (credit, hour, day)
    assert pair.quarter == quarter_of(pair.b.key_us) and pair.quarter // 4 == hour
    assert credit_by(hour_of, [a, b]) == {hour: credit}
    assert credit_by(day_of, [a, b]) == {day: credit}


# --- pair_changes: what a batch removes and adds, and where the credit moves -------------------

P, N = hb(0, 3590, 1), hb(20, 3610, 2)  # 00:59:50 at 0 and 01:00:10 at 20: pair credit 20 in hour 1

PAIR_CHANGES = [
    # (name, stored, new, removed pairs as (a, b) ids, added pairs as (a, b, credit), hour moves)
    # In order: the stored tail is the head; one new pair 2 -> 3 (10 played, 10 s): hour 1 +10.
    ("in order", [P, N], [hb(30, 3620, 3)], [], [(2, 3, 10)], {H0 + 1: +10}),
    # Late x at 00:59:58, at 8, between P and N: P -> N (20, hour 1) leaves; P -> x (8 played,
    # wall 8 + 1 -> 8, in hour 0) and x -> N (12 played, wall 12 + 1 -> 12, hour 1) enter.
    # Hour 0 gains 8, hour 1 loses 20 - 12 = 8: the total does not change, the credit moves.
    ("late event moves credit to the earlier hour", [P, N], [hb(8, 3598, 3)], [(1, 2)], [(1, 3, 8), (3, 2, 12)],
     {H0: +8, H0 + 1: -8}),
    # Late x before everything stored: no pair is removed; x -> P (x at 0, P at 0: a pause) adds 0.
    ("late event before the first, paused", [P, N], [hb(0, 3500, 3)], [], [(3, 1, 0)], {}),
    # Late x (00:59:40, at 0) before a first heartbeat at 10: x -> it, 10 played, wall 10 + 1 -> 10, hour 0.
    ("late event before the first, credited", [hb(10, 3590, 1), N], [hb(0, 3580, 3)], [], [(3, 1, 10)], {H0: +10}),
    # Two late events in one batch between P and N, arriving in reverse order: P -> N leaves; P -> x
    # (5 played, wall 5 + 1: 5, hour 0), x -> y (y at 01:00:00: 5, hour 1) and y -> N (10, hour 1)
    # enter: hour 0 +5, hour 1 -20 + 5 + 10 = -5.
    ("two late events in one batch", [P, N], [hb(10, 3600, 4), hb(5, 3595, 3)], [(1, 2)],
     [(1, 3, 5), (3, 4, 5), (4, 2, 10)], {H0: +5, H0 + 1: -5}),
    # Late x whose pair to N rewinds: x at 30 between P (0) and N (20): P -> x credit 9 (30 played,
    # wall 8 + 1), x -> N 0 (a rewind): hour 0 +9, hour 1 -20.
    ("late event that turns the next pair into a rewind", [P, N], [hb(30, 3598, 3)], [(1, 2)], [(1, 3, 9), (3, 2, 0)],
     {H0: +9, H0 + 1: -20}),
    # The pair across midnight: stored a at 23:59:50 (day before, at 0) and b at 00:00:10 (at 20);
    # late x at 23:59:59 (at 9): a -> b (20, day D0) leaves; a -> x (9, day D0 - 1), x -> b (11) enter.
    ("late event moves credit to the day before", [hb(0, -10, 1), hb(20, 10, 2)], [hb(9, -1, 3)], [(1, 2)],
     [(1, 3, 9), (3, 2, 11)], {H0 - 1: +9, H0: -9}),
]


@pytest.mark.parametrize(("stored", "new", "removed", "added", "moves"),
                         [pytest.param(*row[1:], id=row[0]) for row in PAIR_CHANGES])
def test_pair_changes(stored, new, removed, added, moves):
    tail = stored_tail(stored, new)
    changes = pair_changes(tail, new, LIMITS)
    n = lambda h: h.event_id.int  # noqa: E731
    assert [(n(p.a), n(p.b)) for p in changes.removed] == removed
    assert [(n(p.a), n(p.b), p.credit) for p in changes.added] == added
    assert changes.merged == by_key([*tail, *new])
    assert changes.credit_delta == added_credit(tail, new, LIMITS) == sum(moves.values())
    # Every hour afterwards is the stored hour plus what left and entered it: the whole stream's.
    moved: dict[int, int] = defaultdict(int)
    for p in changes.added:
        moved[hour_of(p.b.key_us)] += p.credit
    for p in changes.removed:
        moved[hour_of(p.b.key_us)] -= p.credit
    assert {h: d for h, d in moved.items() if d} == moves
    restated = defaultdict(int, credit_by(hour_of, stored))
    for h, d in moved.items():
        restated[h] += d
    assert {h: v for h, v in restated.items() if v} == credit_by(hour_of, [*stored, *new])


# --- property: any split of a stream into stored and new restates every bucket exactly ----------

streams = st.lists(
    st.tuples(st.integers(0, 300), st.integers(-7200, 7200), st.booleans()), min_size=2, max_size=20,
    unique_by=lambda item: item[1],
)


@settings(max_examples=300, deadline=None)
@given(spec=streams, data=st.data())
def test_pair_changes_keep_every_hour_and_day_exact_for_any_split(spec, data):
    heartbeats = [hb(at, ts, i + 1) if clock else hb(at, None, i + 1, key=ts) for i, (at, ts, clock) in enumerate(spec)]
    new = data.draw(st.lists(st.sampled_from(heartbeats), min_size=1, unique_by=lambda h: h.event_id))
    stored = [h for h in heartbeats if h not in new]
    tail = stored_tail(stored, new)
    changes = pair_changes(tail, new, LIMITS)
    assert changes.credit_delta == added_credit(tail, new, LIMITS)
    for bucket in (hour_of, day_of):
        restated = defaultdict(int, credit_by(bucket, stored))
        for p in changes.added:
            restated[bucket(p.b.key_us)] += p.credit
        for p in changes.removed:
            restated[bucket(p.b.key_us)] -= p.credit
        assert {k: v for k, v in restated.items() if v} == credit_by(bucket, heartbeats)
