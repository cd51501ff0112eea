"""Concurrency, as worked tables: a pair a -> b credited c > 0 plays during [b.key - c, b.key); it
counts in every UTC minute it overlaps by more than zero. Runs merge where they touch; the
difference of two run lists is what a restatement gains and loses; a peak is the largest minute
value and the first minute reaching it. T is midnight, so minute M0 is [T, T + 60 s)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.rule.test_attribution import LIMITS, SECOND, T, hb
from watchtime.rule import concurrency
from watchtime.rule.attribution import Pair
from watchtime.rule.concurrency import Peak, clip, difference, folded_runs, merge, peak_of, played, played_minutes

M0 = T // (60 * SECOND)


@pytest.mark.parametrize(
    ("a", "b", "credit", "expected"),
    [
        # [T+10, T+20): inside minute 0.
        pytest.param((0, 10), (10, 20), 10, (0, 1), id="inside one minute"),
        # [T+55, T+65): 5 s of minute 0, 5 s of minute 1.
        pytest.param((0, 55), (10, 65), 10, (0, 2), id="straddles a minute boundary"),
        # [T+50, T+60): ends exactly at minute 1's start: minute 0 only.
        pytest.param((0, 50), (10, 60), 10, (0, 1), id="ends on a boundary"),
        # [T+60, T+70): minute 1 only.
        pytest.param((0, 60), (10, 70), 10, (1, 2), id="starts on a boundary"),
        # A seek 0 -> 600 in 10 s credits 11: [T+59, T+70), one second of minute 0 counts.
        pytest.param((0, 60), (600, 70), 11, (0, 2), id="a seek plays only what was credited"),
        # Credit 120 ending at T+3600: [T+3480, T+3600), minutes 58 and 59 (an hour boundary after).
        pytest.param((0, 3480), (120, 3600), 120, (58, 60), id="the last minutes of an hour"),
        pytest.param((10, 10), (10, 20), 0, None, id="a pause plays nothing"),
    ],
)
def test_played_minutes(a, b, credit, expected):
    pair = Pair(hb(a[0], a[1], 1), hb(b[0], b[1], 2), credit)
    want = None if expected is None else (M0 + expected[0], M0 + expected[1])
    assert played_minutes(pair) == want


def test_played_follows_the_credit_rule_pauses_and_rewinds_included():
    """0@0, 10@10 plays [0, 10): minute 0; paused at 10 from 10 s to 130 s plays nothing; a rewind
    to 5@135 nothing; 15@140 credits min(10, 5 + 1) = 6: [134, 140), minute 2. Minute 1 has no play."""
    beats = [hb(0, 0, 1), hb(10, 10, 2), hb(10, 70, 3), hb(10, 130, 4), hb(5, 135, 5), hb(15, 140, 6)]
    assert played(beats, LIMITS) == [(M0, M0 + 1), (M0 + 2, M0 + 3)]
    touching = [hb(0, 50, 1), hb(10, 60, 2), hb(20, 70, 3)]  # [50, 60) and [60, 70): one run
    assert played(touching, LIMITS) == [(M0, M0 + 2)]


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([(5, 7), (1, 3)], [(1, 3), (5, 7)]),
        ([(1, 3), (3, 5)], [(1, 5)]),  # touching runs merge
        ([(1, 4), (2, 3)], [(1, 4)]),
        ([(2, 2)], []),  # empty
    ],
)
def test_merge(runs, expected):
    assert merge(runs) == expected


def test_difference_and_clip():
    assert difference([(0, 5)], [(2, 8)]) == ([(5, 8)], [(0, 2)])
    assert difference([(0, 2), (4, 6)], [(1, 5)]) == ([(2, 4)], [(0, 1), (5, 6)])
    assert clip([(0, 5), (7, 9)], 3, 8) == [(3, 5), (7, 8)]
    assert clip([(0, 5)], 5) == []


def test_peak_is_the_first_minute_reaching_the_largest_value():
    assert peak_of([(10, 2), (11, 5), (12, 5), (13, 1)]) == Peak(5, 11)
    assert peak_of([(12, 5), (11, 5)]) == Peak(5, 11)  # order of the values does not matter
    assert peak_of([(10, 0)]) == Peak(0, None)
    assert Peak(3, 40).combined(Peak(3, 20)) == Peak(3, 20)


def test_folded_runs_keep_the_minutes_near_the_anchor():
    """Pruned 0@0, 10@10, 20@20 (anchor): pairs play [0, 20), minute 0; kept from reach (120 s)
    before the anchor on: minute -2 on, so minute 0 stays. A second prune to 100@200 keeps from
    minute 1 on: the pair 20 -> 100 credits min(80, 181, 120) = 80: [120, 200), minutes 2 and 3."""
    first = folded_runs(None, [], [hb(0, 0, 1), hb(10, 10, 2), hb(20, 20, 3)], LIMITS)
    assert first == [(M0, M0 + 1)]
    second = folded_runs(hb(20, 20, 3), first, [hb(100, 200, 4)], LIMITS)
    assert second == [(M0 + 2, M0 + 4)]


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8),
       st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8))
def test_difference_is_exact_on_minutes(a, b):
    old, new = merge(a), merge(b)
    gained, lost = difference(old, new)
    as_set = lambda runs: set(concurrency.minutes(runs))  # noqa: E731
    assert as_set(gained) == as_set(new) - as_set(old)
    assert as_set(lost) == as_set(old) - as_set(new)
    assert concurrency.decode(concurrency.encode(new)) == new
