"""Coverage, as worked tables: a pair a -> b credited c > 0 covers positions [b.at - c, b.at); a
viewer covers bin k ([k*r, (k+1)*r)) when a covered interval overlaps it by at least one second.
Rewinds raise a bin's count of covering pairs, not its viewers; seeks and pauses cover nothing;
removing a pair takes away exactly what it gave. Resolution 10 s, default limits."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rule.test_attribution import LIMITS, by_key, hb
from watchtime.rule import coverage
from watchtime.rule.attribution import Pair, pairs
from watchtime.rule.coverage import bin_count, bin_deltas, change, covered_bins, decode, difference, encode, spans

R = 10


def pair(a_at: int, b_at: int, credit: int) -> Pair:
    """A pair with a given credit (the credit rule is test_credit's business)."""
    return Pair(hb(a_at, 0, 1), hb(b_at, 10, 2), credit)


@pytest.mark.parametrize(
    ("a_at", "b_at", "credit", "expected"),
    [
        # [b.at - c, b.at) = [0, 10): bin 0 exactly.
        pytest.param(0, 10, 10, (0, 1), id="one whole bin"),
        # [15, 25): 5 s of bin 1 and 5 s of bin 2.
        pytest.param(15, 25, 10, (1, 3), id="straddles two bins"),
        # [9, 11): one second of bin 0 and one of bin 1: both covered.
        pytest.param(9, 11, 2, (0, 2), id="one second in each of two bins"),
        # [9, 10): the last second of bin 0 only; bin 1 starts at 10, not covered.
        pytest.param(9, 10, 1, (0, 1), id="ends exactly on a bin boundary"),
        # [10, 11): the first second of bin 1.
        pytest.param(10, 11, 1, (1, 2), id="starts exactly on a bin boundary"),
        # A seek 0 -> 600 credited 11 (10 s of wall clock + 1): only [589, 600), bins 58 and 59.
        pytest.param(0, 600, 11, (58, 60), id="a seek covers only what was credited before b"),
        pytest.param(10, 10, 0, None, id="a pause covers nothing"),
        pytest.param(20, 5, 0, None, id="a rewind covers nothing"),
    ],
)
def test_bins_a_pair_covers(a_at, b_at, credit, expected):
    assert covered_bins(pair(a_at, b_at, credit), R) == expected


def runs_of(spec, resolution: int = R) -> list[coverage.Run]:
    """A whole stream's coverage, (at, ts) heartbeats in key order."""
    stream = by_key([hb(at, ts, i + 1) for i, (at, ts) in enumerate(spec)])
    covered = [covered_bins(p, resolution) for p in pairs(stream, LIMITS)]
    result = change([], [b for b in covered if b], [])
    assert not result.underflow and result.lost == []
    return result.runs


STREAMS = [
    # (name, heartbeats (at, ts), runs (first bin, end bin, covering pairs))
    # 0 -> 10 -> 20 -> 30 covers bins 0, 1, 2 once each (one run of count 1).
    ("plain viewing", [(0, 0), (10, 10), (20, 20), (30, 30)], [(0, 3, 1)]),
    # Rewind: 0 -> 10 -> 20, back to 5, then 15, 25. Pairs cover [0, 10), [10, 20), nothing (the
    # rewind), [5, 15), [15, 25): bin 0 by 2 pairs, bin 1 by 3, bin 2 by 1. Still bins 0-2, once.
    ("a rewind re-covers bins: counts rise", [(0, 0), (10, 10), (20, 20), (5, 30), (15, 40), (25, 50)],
     [(0, 1, 2), (1, 2, 3), (2, 3, 1)]),
    # Seek: 0 -> 10 covers bin 0; 10 -> 600 in 10 s credits 11, [589, 600): bins 58, 59; 600 -> 610
    # covers bin 60. Bins 1 to 57 were skipped: not covered.
    ("a seek skips bins", [(0, 0), (10, 10), (600, 20), (610, 30)], [(0, 1, 1), (58, 61, 1)]),
    # Pause: 10 -> 10 -> 10 credits nothing; bins 0 and 1 from the pairs around it.
    ("a pause covers nothing", [(0, 0), (10, 10), (10, 20), (10, 30), (20, 40)], [(0, 2, 1)]),
    ("only pauses", [(30, 0), (30, 10), (30, 20)], []),
    ("a lone heartbeat", [(30, 0)], []),
]


@pytest.mark.parametrize(("spec", "expected"), [pytest.param(sp, e, id=n) for n, sp, e in STREAMS])
def test_a_streams_coverage(spec, expected):
    assert runs_of(spec) == expected


def test_a_rewind_raises_the_count_and_gains_no_bin_already_covered():
    before = runs_of([(0, 0), (10, 10), (20, 20)])  # bins 0, 1
    rewatch = [covered_bins(pair(5, 15, 10), R)]  # [5, 15): bins 0 and 1 again
    result = change(before, rewatch, [])
    assert result.runs == [(0, 2, 2)]
    assert result.gained == [] and result.lost == []


def test_a_pair_that_reaches_a_new_bin_gains_only_that_bin():
    result = change([(0, 2, 1)], [covered_bins(pair(15, 25, 10), R)], [])  # bins 1 and 2
    assert result.runs == [(0, 1, 1), (1, 2, 2), (2, 3, 1)]
    assert result.gained == [(2, 3)] and result.lost == []


def test_removing_a_pair_takes_away_exactly_what_it_gave():
    """A late heartbeat replaces a pair: its bins lose one covering pair each; only bins no other
    pair covers are lost to the viewer."""
    first, second = covered_bins(pair(0, 20, 20), R), covered_bins(pair(15, 45, 30), R)  # bins 0-1, 1-4
    both = change([], [first, second], [])
    assert both.runs == [(0, 1, 1), (1, 2, 2), (2, 5, 1)] and both.gained == [(0, 5)]
    without = change(both.runs, [], [second])
    assert without.runs == change([], [first], []).runs == [(0, 2, 1)]
    assert without.lost == [(2, 5)] and without.gained == [] and not without.underflow
    # Replacing the pair by two that cover the same positions changes no bin of the viewer.
    halves = [covered_bins(pair(15, 30, 15), R), covered_bins(pair(30, 45, 15), R)]  # bins 1-2, 3-4
    replaced = change(both.runs, halves, [second])
    assert replaced.runs == [(0, 1, 1), (1, 2, 2), (2, 5, 1)]
    assert replaced.gained == [] and replaced.lost == []


def test_removing_what_is_not_there_clamps_at_zero_and_is_reported():
    assert change([], [], [(0, 2)]) == coverage.CoverageChange(runs=[], gained=[], lost=[], underflow=True)
    result = change([(0, 1, 1)], [], [(0, 2)])  # bin 0 held one pair, bin 1 none
    assert result.runs == [] and result.lost == [(0, 1)] and result.underflow


def test_a_balanced_removal_does_not_underflow():
    result = change([(3, 5, 2)], [(4, 6)], [(3, 5)])
    assert result.runs == [(3, 4, 1), (4, 5, 2), (5, 6, 1)]
    assert result.gained == [(5, 6)] and result.lost == [] and not result.underflow


@pytest.mark.parametrize(
    ("old", "new", "gained", "lost"),
    [
        pytest.param([], [(0, 3, 1)], [(0, 3)], [], id="from nothing"),
        pytest.param([(0, 3, 1)], [], [], [(0, 3)], id="to nothing"),
        pytest.param([(0, 3, 1)], [(0, 3, 5)], [], [], id="counts alone change nothing"),
        pytest.param([(0, 2, 1), (5, 7, 1)], [(1, 6, 2)], [(2, 5)], [(0, 1), (6, 7)], id="shifted"),
        pytest.param([(0, 1, 1), (1, 2, 2)], [(0, 2, 1)], [], [], id="split runs, same bins"),
        pytest.param([], [], [], [], id="nothing"),
    ],
)
def test_difference(old, new, gained, lost):
    assert difference(old, new) == (gained, lost)


@pytest.mark.parametrize(
    "runs", [[], [(0, 1, 1)], [(0, 3, 2), (3, 8640, 1)], [(12, 13, 40), (100, 200, 1), (201, 202, 7)]],
)
def test_encode_decode_round_trip(runs):
    assert decode(encode(runs)) == runs


def test_encoding_is_compact_text():
    assert encode([(0, 3, 2), (5, 6, 1)]) == "0-3*2,5-6*1"
    assert decode("") == [] and encode([]) == ""


@pytest.mark.parametrize(
    ("duration", "furthest_bin_end", "resolution", "expected"),
    [
        pytest.param(600, 3, 10, 60, id="to the duration"),
        pytest.param(605, 3, 10, 61, id="a partial last bin is shown"),
        pytest.param(600, 90, 10, 60, id="the duration, even when viewers covered past it"),
        pytest.param(None, 7, 10, 7, id="no duration: to the furthest covered bin"),
        pytest.param(0, 7, 10, 7, id="duration 0 is no duration"),
        pytest.param(None, 0, 10, 0, id="no duration, nothing covered"),
        pytest.param(9, 0, 10, 1, id="shorter than one bin"),
    ],
)
def test_bin_count(duration, furthest_bin_end, resolution, expected):
    assert bin_count(duration, furthest_bin_end, resolution) == expected


# --- property: changes applied in any order equal coverage computed at once ----------------------

bin_ranges = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)).map(lambda t: (t[0], t[0] + t[1])), max_size=12)


@settings(max_examples=300, deadline=None)
@given(ranges=bin_ranges, data=st.data())
def test_adding_and_removing_in_steps_equals_adding_what_remains(ranges, data):
    """Each step's gained/lost are exactly the bins whose coverage started or stopped."""
    removed = data.draw(st.lists(st.sampled_from(ranges), unique=True)) if ranges else []
    order = data.draw(st.permutations(ranges))
    runs: list = []
    covered: set[int] = set()
    for r in order:
        step = change(runs, [r], [])
        covered, runs = _checked(step, covered), step.runs
    for r in removed:
        step = change(runs, [], [r])
        covered, runs = _checked(step, covered), step.runs
    remaining = list(ranges)
    for r in removed:
        remaining.remove(r)
    assert runs == change([], remaining, []).runs
    assert covered == {k for lo, hi in remaining for k in range(lo, hi)}


def _checked(step, covered: set[int]) -> set[int]:
    assert not step.underflow
    gained = {k for lo, hi in step.gained for k in range(lo, hi)}
    lost = {k for lo, hi in step.lost for k in range(lo, hi)}
    now = {k for lo, hi, _ in step.runs for k in range(lo, hi)}
    assert gained == now - covered and lost == covered - now
    assert difference(_runs(covered), step.runs) == (step.gained, step.lost)
    return now


def _runs(bins: set[int]) -> list:
    return change([], [(k, k + 1) for k in bins], []).runs


def test_bin_deltas_walk_every_bin_gained_then_every_bin_lost():
    """What the apply path, a rebuild and the audit add to each bin's viewers from a coverage change."""
    assert list(bin_deltas([(0, 2), (5, 6)], [(3, 4)])) == [(0, 1), (1, 1), (5, 1), (3, -1)]
    assert list(bin_deltas([], [])) == [] and list(bin_deltas([(2, 4)])) == [(2, 1), (3, 1)]
    assert list(bin_deltas(spans([(0, 2, 3), (4, 5, 1)]))) == [(0, 1), (1, 1), (4, 1)]
