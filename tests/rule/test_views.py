"""Views, as worked tables: a stream cut wherever adjacent keys are more than the gap apart, the
gap-crossing pair in the later view (so a stream's views add up to its total), late heartbeats that
merge views or move a view's start; the thresholds; and restate() (what the apply path stores)
equal to views_of() over the whole stream for hand cases and any split into batches.

Times are seconds after T as in test_attribution; the gap is 1800 s, limits the defaults."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rule.test_attribution import LIMITS, SECOND, T, by_key, hb, stored_tail
from watchtime.rule.attribution import pair_changes, pairs
from watchtime.rule.credit import chain_total
from watchtime.rule.views import (
    Unrestatable,
    View,
    ViewDefinition,
    counts,
    is_complete,
    partition,
    percent_watched,
    restate,
    views_of,
)

GAP = 1800
GAP_US = GAP * SECOND


def views(spec) -> list[tuple]:
    """The views of a whole stream as (started s, ended s, watch time, furthest position)."""
    ordered = by_key(spec)
    return [_row(v) for v in views_of(ordered, pairs(ordered, LIMITS), GAP_US)]


def _row(v: View) -> tuple:
    return ((v.started_us - T) / SECOND, (v.ended_us - T) / SECOND, v.watch_time, v.furthest_position)


def s(*items) -> list:
    """Heartbeats (at, ts) numbered 1, 2, ... in the order given."""
    return [hb(at, ts, i + 1) for i, (at, ts) in enumerate(items)]


# --- views_of: the definition ------------------------------------------------------------------

VIEWS = [
    # (name, heartbeats (at, ts), views (start, end, watch time, furthest))
    ("one view", s((0, 0), (10, 10), (20, 20)), [(0, 20, 20, 20)]),
    # 20 -> 1821 is 1801 s apart, over the gap: a second view. The pair crossing it (10 played,
    # wall 1801 + 1, capped at 120 -> 10) belongs to the later view: 10 + 10 = 20. 20 + 20 = 40 = total.
    ("split by a gap", s((0, 0), (10, 10), (20, 20), (30, 1821), (40, 1831)), [(0, 20, 20, 20), (1821, 1831, 20, 40)]),
    # Exactly 1800 s apart is not over the gap: one view, 20 + 10 + 10 = 40.
    ("a gap of exactly the limit does not cut", s((0, 0), (10, 10), (20, 20), (30, 1820), (40, 1830)),
     [(0, 1830, 40, 40)]),
    # A single heartbeat is a view with nothing credited; its furthest position is its `at`.
    ("a lone heartbeat", s((700, 0)), [(0, 0, 0, 700)]),
    # After a break the viewer resumes elsewhere: the crossing pair 20 -> 600 is played 580, wall
    # 3980 + 1, capped at 120; the later view has 120 + 10 = 130 and its furthest is 610.
    ("resume after a break", s((0, 0), (20, 20), (600, 4000), (610, 4010)), [(0, 20, 20, 20), (4000, 4010, 130, 610)]),
    # A rewind's pair credits 0; the furthest position is the largest `at`, not the last.
    ("rewind: furthest is the largest at", s((0, 0), (300, 300), (100, 310), (110, 320)), [(0, 320, 130, 300)]),
    # Three views: breaks of 2000 s and 90000 s (a day).
    ("three views", s((0, 0), (10, 10), (20, 2010), (30, 92010)), [(0, 10, 10, 10), (2010, 2010, 10, 20),
                                                                 (92010, 92010, 10, 30)]),
]


@pytest.mark.parametrize(("spec", "expected"), [pytest.param(sp, e, id=n) for n, sp, e in VIEWS])
def test_views_of_a_stream(spec, expected):
    assert views(spec) == expected
    # The views add up to the stream's total, and each heartbeat is in exactly one of them.
    assert sum(v[2] for v in expected) == chain_total(by_key(spec), LIMITS)
    assert sum(len(run) for run in partition(by_key(spec), GAP_US)) == len(spec)


def test_without_a_clock_the_receive_time_cuts_the_views():
    stream = [hb(0, None, 1, key=0), hb(10, None, 2, key=10), hb(20, None, 3, key=5000)]
    # 10 -> 20 without clocks credits min(10, 15) = 10, in the later view.
    assert views(stream) == [(0, 10, 10, 10), (5000, 5000, 10, 20)]


# --- thresholds -----------------------------------------------------------------------------------

DEFAULT = ViewDefinition()


@pytest.mark.parametrize(
    ("watch_time", "min_view_seconds", "expected"),
    [
        pytest.param(10, 10, True, id="exactly the minimum counts"),
        pytest.param(9, 10, False, id="a second short does not"),
        pytest.param(11, 10, True, id="over the minimum"),
        pytest.param(0, 0, True, id="minimum 0: every view counts"),
        pytest.param(0, 1, False, id="nothing credited"),
    ],
)
def test_a_view_counts_from_min_view_seconds(watch_time, min_view_seconds, expected):
    assert counts(watch_time, ViewDefinition(min_view_seconds=min_view_seconds)) is expected


def view(furthest: int, watch_time: int = 100) -> View:
    return View(None, T, T, watch_time, furthest)


@pytest.mark.parametrize(
    ("furthest", "duration", "ratio", "expected"),
    [
        pytest.param(90, 100, 0.9, True, id="exactly 0.9 x 100"),
        pytest.param(89, 100, 0.9, False, id="a second short"),
        pytest.param(1620, 1800, 0.9, True, id="exactly 0.9 x 1800"),
        pytest.param(63, 70, 0.9, True, id="exactly 0.9 x 70"),
        # 0.55 x 100 is 55, though 0.55 * 100 in binary floating point is 55.00000000000001.
        pytest.param(55, 100, 0.55, True, id="exactly 0.55 x 100"),
        pytest.param(7, 100, 0.07, True, id="exactly 0.07 x 100"),
        pytest.param(54, 100, 0.55, False, id="under 0.55 x 100"),
        # Six decimals: 0.999988 x 86400 = 86398.9632.
        pytest.param(86399, 86400, 0.999988, True, id="six decimals, reached"),
        pytest.param(86398, 86400, 0.999988, False, id="six decimals, a second short"),
        pytest.param(100, 100, 1.0, True, id="ratio 1: the whole movie"),
        pytest.param(99, 100, 1.0, False, id="ratio 1, a second short"),
        pytest.param(0, 100, 0.0, True, id="ratio 0: every counted view"),
        pytest.param(5000, 100, 0.9, True, id="past the end"),
        pytest.param(90, None, 0.9, None, id="no duration: unknown"),
        pytest.param(90, 0, 0.9, None, id="duration 0 is no duration"),
    ],
)
def test_a_view_is_complete_at_ratio_times_duration(furthest, duration, ratio, expected):
    assert is_complete(view(furthest), duration, ViewDefinition(completion_ratio=ratio)) is expected


@settings(max_examples=500, deadline=None)
@given(hundredths=st.integers(0, 100), millionths=st.integers(0, 10_000),
       duration=st.one_of(st.integers(1, 86400), st.integers(1, 864).map(lambda k: 100 * k)), step=st.sampled_from([-1, 0, 1]))
def test_completion_is_exact_for_ratios_of_up_to_six_decimals(hundredths, millionths, duration, step):
    # Mostly whole percents of durations in whole 100 s, where ratio x duration is a whole second
    # and floating point often lands just above it.
    share = min(1_000_000, hundredths * 10_000 + (millionths if hundredths % 3 == 0 else 0))
    ratio = share / 1_000_000
    threshold = -(-share * duration // 1_000_000)  # the first position at or over ratio x duration
    furthest = max(0, threshold + step)
    complete = is_complete(view(furthest), duration, ViewDefinition(completion_ratio=ratio))
    assert complete is (furthest * 1_000_000 >= share * duration)


@pytest.mark.parametrize(
    ("watch_time", "duration", "expected"),
    [
        pytest.param(50, 200, 25.0, id="a quarter"),
        pytest.param(200, 200, 100.0, id="all of it"),
        pytest.param(450, 200, 100.0, id="rewatched: capped at 100"),
        pytest.param(0, 200, 0.0, id="nothing"),
        pytest.param(50, None, None, id="no duration"),
        pytest.param(50, 0, None, id="duration 0"),
    ],
)
def test_percent_watched(watch_time, duration, expected):
    assert percent_watched(watch_time, duration) == expected


# --- restate(): the stored views after a batch equal the definition over all heartbeats ---------


def stored_views(stored) -> list[View]:
    """A stream's views as the store holds them (with ids)."""
    ordered = by_key(stored)
    return [replace(v, id=i + 1) for i, v in enumerate(views_of(ordered, pairs(ordered, LIMITS), GAP_US))]


def apply_batch(current: list[View], stored: list, new: list, next_id: int):
    """One batch as the apply path runs it: the touched views (the last view for heartbeats in
    order, else the views ending at or after the stored tail's start), restate, save. Returns the
    views afterwards (by start), the ViewChanges, and the next free id."""
    tail = stored_tail(stored, new) if stored else []
    changes = pair_changes(tail, new, LIMITS)
    if not stored:
        touched = []
    elif min(h.key for h in new) > max(h.key for h in stored):
        touched = current[-1:]
    else:
        touched = [v for v in current if v.ended_us >= tail[0].key_us]
    result = restate(touched, changes, new, GAP_US)
    by_id = {v.id: v for v in current}
    assert set(result.deleted) <= set(by_id) and {v.id for v in result.updated} <= set(by_id)
    for v in result.updated:
        assert result.before[v.id] == by_id[v.id]
        by_id[v.id] = v
    for i in result.deleted:
        assert result.before[i] == by_id.pop(i)
    for v in result.created:
        by_id[next_id] = replace(v, id=next_id)
        next_id += 1
    after = sorted(by_id.values(), key=lambda v: v.started_us)
    # `last` is the view holding the stream's newest heartbeat.
    newest = max([*stored, *new], key=lambda h: h.key)
    assert result.last is not None and result.last.started_us <= newest.key_us == result.last.ended_us
    return after, result, next_id


def restated(stored: list, new: list):
    after, result, _ = apply_batch(stored_views(stored), stored, new, 1000)
    return [_row(v) for v in after], result


RESTATE = [
    # (name, stored (at, ts), new (at, ts), views afterwards, (updated, created, deleted) counts)
    # In order, within the gap: the last view grows: 20 + 10.
    ("in order extends the last view", [(0, 0), (10, 10), (20, 20)], [(30, 30)], [(0, 30, 30, 30)], (1, 0, 0)),
    # In order after a break: a new view holding the crossing pair (10 played, wall 1891: 10).
    ("in order after a break starts a view", [(0, 0), (10, 10)], [(20, 1900)], [(0, 10, 10, 10), (1900, 1900, 10, 20)],
     (0, 1, 0)),
    # A late heartbeat at 1000 between views [0, 20] and [2000, 2010]: gaps 980 and 1000, so one view.
    # Pairs 20 -> 25 (5 played, wall 980 + 1: 5) and 25 -> 30 (5) replace 20 -> 30 (10): 20 + 5 + 5 + 10 = 40.
    ("a late event merges two views", [(0, 0), (10, 10), (20, 20), (30, 2000), (40, 2010)], [(25, 1000)],
     [(0, 2010, 40, 40)], (1, 0, 1)),
    # Late heartbeats at 1000 and 3000 join three views (gaps of 2000 s) into one.
    ("two late events merge three views", [(0, 0), (10, 2000), (20, 4000)], [(5, 1000), (15, 3000)],
     [(0, 4000, 20, 20)], (1, 0, 2)),
    # Late heartbeat before the view, within the gap: the start moves to 990 and the pair 90 -> 100
    # (10 played, wall 10 + 1: 10) enters it: 20 + 10 = 30.
    ("a late event moves a view's start earlier", [(100, 1000), (110, 1010), (120, 1020)], [(90, 990)],
     [(990, 1020, 30, 120)], (1, 0, 0)),
    # Late heartbeat 5000 s before the stream: a view of its own (nothing credited, furthest 0); the
    # pair crossing the gap (0 -> 100: 100 played, wall 5001, capped at 120: 100) joins the later,
    # stored view: 10 + 100 = 110.
    ("a late event far before starts an earlier view", [(100, 5000), (110, 5010)], [(0, 0)],
     [(0, 0, 0, 0), (5000, 5010, 110, 110)], (1, 1, 0)),
    # Late heartbeat inside a pair: 0 -> 20 (20) becomes 0 -> 10 and 10 -> 20 (10 + 10): the same total.
    ("a late event splits a pair", [(0, 0), (20, 20)], [(10, 10)], [(0, 20, 20, 20)], (0, 0, 0)),
    # Late heartbeat at position 500 between 10 and 20 s: 10 -> 500 credits 6 (wall 5 + 1), 500 -> 20
    # rewinds (0); it replaces 10 -> 20 (10): 20 - 10 + 6 = 16, and the furthest becomes 500.
    ("a late event raises the furthest position", [(0, 0), (10, 10), (20, 20)], [(500, 15)], [(0, 20, 16, 500)],
     (1, 0, 0)),
    # Late heartbeat in a long gap, over the gap from both sides: a view in the middle holding
    # 10 -> 15 (5 played: 5). The pair it comes between, 10 -> 20 (10), leaves the last view and
    # 15 -> 20 (5) enters it: 20 - 10 + 5 = 15.
    ("a late event in a long gap is a view of its own", [(0, 0), (10, 10), (20, 5000), (30, 5010)], [(15, 2500)],
     [(0, 10, 10, 10), (2500, 2500, 5, 15), (5000, 5010, 15, 30)], (1, 1, 0)),
    # First batch of a stream, with a break in it: two new views.
    ("a new stream with a break", [], [(0, 0), (10, 10), (20, 4000)], [(0, 10, 10, 10), (4000, 4000, 10, 20)],
     (0, 2, 0)),
    # One batch with a late heartbeat and in-order ones, one of them after a break.
    ("late and in-order heartbeats in one batch", [(0, 0), (10, 10)], [(30, 30), (5, 5), (40, 4000)],
     [(0, 30, 30, 30), (4000, 4000, 10, 40)], (1, 1, 0)),
]


@pytest.mark.parametrize(("stored", "new", "expected", "counts_"), [pytest.param(*r[1:], id=r[0]) for r in RESTATE])
def test_restate_gives_the_views_of_the_whole_stream(stored, new, expected, counts_):
    old = s(*stored)
    fresh = [hb(at, ts, 100 + i) for i, (at, ts) in enumerate(new)]
    after, result = restated(old, fresh)
    assert after == expected == views([*old, *fresh])
    assert (len(result.updated), len(result.created), len(result.deleted)) == counts_


def test_restate_refuses_a_tail_outside_the_stored_views():
    """A stream whose events predate the analytics has no stored views: the apply path rebuilds it."""
    old = s((0, 0), (10, 10))
    new = [hb(20, 20, 100)]
    with pytest.raises(Unrestatable):
        restate([], pair_changes(stored_tail(old, new), new, LIMITS), new, GAP_US)


# --- property: any delivery in batches leaves the views of the whole stream --------------------

stream_spec = st.lists(
    st.tuples(st.integers(0, 600), st.integers(0, 12_000), st.booleans()), min_size=1, max_size=18,
    unique_by=lambda item: item[1],
)


@settings(max_examples=300, deadline=None)
@given(spec=stream_spec, data=st.data())
def test_restated_views_equal_views_of_all_heartbeats_for_any_batches(spec, data):
    # Keys up to 12,000 s with a gap of 1,800 s: streams of one to several views, late events
    # merging them, heartbeats with and without a wall clock.
    heartbeats = [hb(at, ts, i + 1) if clock else hb(at, None, i + 1, key=ts) for i, (at, ts, clock) in enumerate(spec)]
    delivery = data.draw(st.permutations(heartbeats))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(delivery) - 1)), max_size=len(delivery))))
    batches = [delivery[a:b] for a, b in zip([0, *cuts], [*cuts, len(delivery)], strict=True) if delivery[a:b]]
    current: list[View] = []
    stored: list = []
    next_id = 1
    for batch in batches:
        current, _, next_id = apply_batch(current, stored, batch, next_id)
        stored += batch
        assert [_row(v) for v in current] == views(stored)
    assert [_row(v) for v in current] == views(heartbeats)
