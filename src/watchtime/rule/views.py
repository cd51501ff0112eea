"""Views: a stream's heartbeats, in key order, cut wherever adjacent keys are more than the gap
apart. The pair that crosses a gap belongs to the later view, so a stream's views add up to its
total. A view counts when its watch time reaches the threshold, and is complete when its
furthest position reaches a share of the movie's duration; both thresholds are applied when read,
so every view is kept whatever they are.

New heartbeats only ever shorten gaps, so views grow and merge but never split: restating a
stream's views needs the stored views its tail touches, not their heartbeats.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache

from watchtime.rule.attribution import Pair, PairChanges
from watchtime.rule.credit import MICROSECONDS, Heartbeat


@dataclass(frozen=True)
class ViewDefinition:
    gap_seconds: int = 1800  # adjacent keys further apart than this start a new view
    min_view_seconds: int = 10  # a view counts from this much watch time
    completion_ratio: float = 0.9  # a counted view is complete at this share of the duration

    @property
    def gap_us(self) -> int:
        return self.gap_seconds * MICROSECONDS

    @property
    def completion_fraction(self) -> Fraction:
        return _exact_ratio(self.completion_ratio)


@lru_cache(maxsize=64)
def _exact_ratio(ratio: float) -> Fraction:
    """The ratio as the decimal it was written as (0.55 is 11/20, while 0.55 * 100 is
    55.00000000000001 in floating point), so that a view at exactly ratio x duration is complete;
    a denominator of at most a million keeps the database's integer comparison in range."""
    return Fraction(repr(ratio)).limit_denominator(1_000_000)


@dataclass(frozen=True)
class View:
    """One view as stored; `id` is None for a view not stored yet."""

    id: int | None
    started_us: int  # key time of its first heartbeat
    ended_us: int  # key time of its last heartbeat
    watch_time: int
    furthest_position: int  # the largest `at` of its heartbeats


def counts(watch_time: int, definition: ViewDefinition) -> bool:
    return watch_time >= definition.min_view_seconds


def is_complete(view: View, duration: int | None, definition: ViewDefinition) -> bool | None:
    """None without a movie duration."""
    if not duration:
        return None
    ratio = definition.completion_fraction
    return view.furthest_position * ratio.denominator >= ratio.numerator * duration


def percent_watched(watch_time: int, duration: int | None) -> float | None:
    """min(100, 100 x watch time / duration), None without a duration."""
    if not duration:
        return None
    return min(100.0, 100.0 * watch_time / duration)


def partition(ordered: Sequence[Heartbeat], gap_us: int) -> list[list[Heartbeat]]:
    """Heartbeats sorted by key, cut into runs wherever adjacent keys are more than `gap_us` apart."""
    runs: list[list[Heartbeat]] = []
    for hb in ordered:
        if runs and hb.key_us - runs[-1][-1].key_us <= gap_us:
            runs[-1].append(hb)
        else:
            runs.append([hb])
    return runs


def views_of(ordered: Sequence[Heartbeat], pairs: Sequence[Pair], gap_us: int) -> list[View]:
    """A stream's views from all its heartbeats (sorted by key) and their pairs: the definition,
    for recomputation and tests."""
    credit_by_b = {p.b.event_id: p.credit for p in pairs}
    return [
        View(
            id=None,
            started_us=run[0].key_us,
            ended_us=run[-1].key_us,
            watch_time=sum(credit_by_b.get(hb.event_id, 0) for hb in run),
            furthest_position=max(hb.at for hb in run),
        )
        for run in partition(ordered, gap_us)
    ]


class Unrestatable(ValueError):
    """The stored views do not cover the stored tail (a stream not backfilled yet): the stream's
    views must be rebuilt from its heartbeats."""


@dataclass
class ViewChanges:
    """How a stream's stored views change: rows to update, to insert, and ids to delete."""

    updated: list[View] = field(default_factory=list)
    created: list[View] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    before: dict[int, View] = field(default_factory=dict)  # stored state of updated and deleted ids
    last: View | None = None  # the view holding the stream's newest heartbeat (possibly in `created`)


def restate(touched: Sequence[View], changes: PairChanges, new: Sequence[Heartbeat], gap_us: int) -> ViewChanges:
    """Restate the views of a stream's tail.

    `touched`: the stored views holding the stored tail's heartbeats (for heartbeats in order,
    the stream's last view), by start; `changes`: the pair changes of this batch; `new`: the new
    heartbeats. Each stored view keeps its pre-tail heartbeats, so its watch time and furthest
    position are carried over and only what the changed pairs add or remove is applied.
    """
    view_of: dict = {}  # event id of a stored tail heartbeat -> its stored view
    new_ids = {hb.event_id for hb in new}
    for hb in changes.merged:
        if hb.event_id in new_ids:
            continue
        view = next((v for v in touched if v.started_us <= hb.key_us <= v.ended_us), None)
        if view is None:
            raise Unrestatable(f"stored heartbeat at {hb.key_us} lies in no stored view")
        view_of[hb.event_id] = view
    removed_by_view: dict[int, int] = {}
    for pair in changes.removed:
        view_id = view_of[pair.b.event_id].id
        removed_by_view[view_id] = removed_by_view.get(view_id, 0) + pair.credit
    added_by_b = {pair.b.event_id: pair.credit for pair in changes.added}

    result = ViewChanges()
    for run in partition(changes.merged, gap_us):
        stored = list({view_of[hb.event_id].id: view_of[hb.event_id] for hb in run if hb.event_id in view_of}.values())
        fresh = [hb for hb in run if hb.event_id in new_ids]
        added = sum(added_by_b.get(hb.event_id, 0) for hb in run)
        if not stored:
            view = View(None, run[0].key_us, run[-1].key_us, added, max(hb.at for hb in run))
            result.created.append(view)
        else:
            first, *merged_away = stored
            view = replace(
                first,
                started_us=min(first.started_us, run[0].key_us),
                ended_us=max(stored[-1].ended_us, run[-1].key_us),
                watch_time=sum(v.watch_time - removed_by_view.get(v.id, 0) for v in stored) + added,
                furthest_position=max([v.furthest_position for v in stored] + [hb.at for hb in fresh]),
            )
            if view != first:
                result.updated.append(view)
                result.before[first.id] = first
            for v in merged_away:
                result.deleted.append(v.id)
                result.before[v.id] = v
        result.last = view
    return result
