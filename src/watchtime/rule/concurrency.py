"""Concurrent viewers: when a stream plays, which UTC minutes that touches, kept as merged runs.

A stream plays during [b.key - c, b.key) for every pair a -> b of its heartbeats credited c > 0.
It counts in a minute [m, m + 60 s) when one of those intervals overlaps it by more than zero.
A stream's played minutes are kept as runs (first minute, minute after the last), merged where
they touch, so an in-order heartbeat inside a minute already played changes nothing.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchtime.rule.attribution import Pair, pairs
from watchtime.rule.credit import MICROSECONDS, Heartbeat, Limits

MINUTE_US = 60 * MICROSECONDS
QUARTER_MINUTES = 15  # every UTC offset since 1980 is a whole number of quarter hours
Run = tuple[int, int]  # (first minute, minute after the last), minutes since the epoch
EARLIEST = -(2**31)  # a minute before every key the service takes (the year 1 is minute -1,035,593,280)


def minute_of(key_us: int) -> int:
    return key_us // MINUTE_US


def quarter_of(minute: int) -> int:
    return minute // QUARTER_MINUTES


def reach_us(limits: Limits) -> int:
    """How far before its later heartbeat's key a pair's play interval can start: its largest credit."""
    return max(limits.max_credit_seconds, limits.max_step_seconds) * MICROSECONDS


def played_minutes(pair: Pair) -> Run | None:
    """The minutes a pair's play interval touches, or None for a pair credited nothing."""
    if pair.credit <= 0:
        return None
    end_us = pair.b.key_us
    start_us = end_us - pair.credit * MICROSECONDS
    return minute_of(start_us), minute_of(end_us - 1) + 1


def played(ordered: Sequence[Heartbeat], limits: Limits) -> list[Run]:
    """The merged minutes the pairs of heartbeats already sorted by key play in."""
    return merge(r for r in map(played_minutes, pairs(ordered, limits)) if r)


def folded_runs(old_anchor: Heartbeat | None, old_runs: list[Run], pruned: Sequence[Heartbeat], limits: Limits) -> list[Run]:
    """What a prune keeps of a stream's played minutes for a late heartbeat after its new anchor
    (the last of `pruned`): the minutes pairs up to that anchor play from `reach` before it on,
    where pairs after it may play too. `old_runs`: the same kept at the previous anchor."""
    new_anchor = pruned[-1]
    runs = merge([*old_runs, *played([*([old_anchor] if old_anchor else []), *pruned], limits)])
    return clip(runs, minute_of(new_anchor.key_us - reach_us(limits)))


def merge(runs: Iterable[Run]) -> list[Run]:
    """Sorted, disjoint, non-touching runs covering the same minutes."""
    out: list[Run] = []
    for lo, hi in sorted(r for r in runs if r[0] < r[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def clip(runs: Iterable[Run], lo: int, hi: int | None = None) -> list[Run]:
    """The parts of runs inside [lo, hi) (hi None: no end)."""
    out = []
    for a, b in runs:
        a, b = max(a, lo), (b if hi is None else min(b, hi))
        if a < b:
            out.append((a, b))
    return out


def difference(old: list[Run], new: list[Run]) -> tuple[list[Run], list[Run]]:
    """(gained, lost) between two merged run lists: minutes in `new` not in `old`, and the reverse."""
    return _minus(new, old), _minus(old, new)


def _minus(a: list[Run], b: list[Run]) -> list[Run]:
    out: list[Run] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while cur < hi:
            if k < len(b) and b[k][0] < hi:
                if b[k][0] > cur:
                    out.append((cur, b[k][0]))
                cur = max(cur, b[k][1])
                k += 1
            else:
                out.append((cur, hi))
                cur = hi
    return out


def minutes(runs: Iterable[Run]) -> Iterable[int]:
    for lo, hi in runs:
        yield from range(lo, hi)


@dataclass(frozen=True)
class Peak:
    """The largest minute value of a span and the first minute that reached it (None when 0)."""

    peak: int = 0
    at: int | None = None

    def with_minute(self, minute: int, viewers: int) -> "Peak":
        return self.combined(Peak(viewers, minute if viewers > 0 else None))

    def combined(self, other: "Peak") -> "Peak":
        if other.peak > self.peak or (other.peak == self.peak and other.peak > 0 and other.at < self.at):
            return other
        return self


def peak_of(values: Iterable[tuple[int, int]]) -> Peak:
    """The peak of (minute, viewers) values."""
    result = Peak()
    for minute, viewers in values:
        result = result.with_minute(minute, viewers)
    return result


def encode(runs: list[Run]) -> str:
    """Compact text for the database: "lo-hi" joined by commas."""
    return ",".join(f"{lo}-{hi}" for lo, hi in runs)


def decode(text: str) -> list[Run]:
    return [tuple(map(int, item.split("-"))) for item in text.split(",")] if text else []
