"""Which positions a viewer watched, for the audience-retention curve.

A pair a -> b credited c > 0 covers positions [b.at - c, b.at). With resolution r a viewer covers
bin k ([k*r, (k+1)*r)) when any of their covered intervals on the movie overlaps it by at least
one second. Per viewer and movie the bins are kept as runs with a count of covering pairs, so a
late heartbeat that replaces a pair takes away exactly what that pair gave.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from watchtime.rule.attribution import Pair

Run = tuple[int, int, int]  # (first bin, bin after the last, covering pairs), count > 0
BinRange = tuple[int, int]  # (first bin, bin after the last)


def covered_bins(pair: Pair, resolution: int) -> BinRange | None:
    """The bins a pair covers, or None for a pair credited nothing."""
    if pair.credit <= 0:
        return None
    start, end = pair.b.at - pair.credit, pair.b.at
    return start // resolution, (end - 1) // resolution + 1


@dataclass(frozen=True)
class CoverageChange:
    runs: list[Run]  # the viewer's coverage afterwards
    gained: list[BinRange]  # bins the viewer covers now and did not before
    lost: list[BinRange]  # bins the viewer covered before and does not now
    # A removal found no covering pair to take away: the stored coverage did not hold what the
    # log says (a viewer not backfilled yet). Counts stop at zero; the caller reports it.
    underflow: bool = False


def change(runs: Iterable[Run], add: Iterable[BinRange], remove: Iterable[BinRange]) -> CoverageChange:
    """Apply covering pairs added and removed to a viewer's runs."""
    deltas: dict[int, int] = {}
    for lo, hi in add:
        deltas[lo] = deltas.get(lo, 0) + 1
        deltas[hi] = deltas.get(hi, 0) - 1
    for lo, hi in remove:
        deltas[lo] = deltas.get(lo, 0) - 1
        deltas[hi] = deltas.get(hi, 0) + 1
    runs = list(runs)
    points = sorted({*deltas, *(lo for lo, _, _ in runs), *(hi for _, hi, _ in runs)})
    new_runs: list[Run] = []
    gained: list[BinRange] = []
    lost: list[BinRange] = []
    old_index, delta_sum, underflow = 0, 0, False
    for lo, hi in zip(points, points[1:]):
        delta_sum += deltas.get(lo, 0)
        while old_index < len(runs) and runs[old_index][1] <= lo:
            old_index += 1
        old_count = runs[old_index][2] if old_index < len(runs) and runs[old_index][0] <= lo else 0
        new_count = old_count + delta_sum
        if new_count < 0:
            new_count, underflow = 0, True
        _extend(new_runs, (lo, hi, new_count))
        if old_count == 0 and new_count > 0:
            _extend_range(gained, (lo, hi))
        elif old_count > 0 and new_count == 0:
            _extend_range(lost, (lo, hi))
    return CoverageChange(runs=new_runs, gained=gained, lost=lost, underflow=underflow)


def bin_deltas(gained: Iterable[BinRange], lost: Iterable[BinRange] = ()) -> Iterator[tuple[int, int]]:
    """(bin, +1) for every bin of `gained`, then (bin, -1) for every bin of `lost`: what a viewer's
    coverage change moves in each bin's count of viewers (the retention curve)."""
    for ranges, sign in ((gained, 1), (lost, -1)):
        for lo, hi in ranges:
            for k in range(lo, hi):
                yield k, sign


def spans(runs: Iterable[Run]) -> list[BinRange]:
    """The bins that runs cover, without their counts."""
    return [(lo, hi) for lo, hi, _ in runs]


def _extend(runs: list[Run], run: Run) -> None:
    lo, hi, count = run
    if count == 0:
        return
    if runs and runs[-1][1] == lo and runs[-1][2] == count:
        runs[-1] = (runs[-1][0], hi, count)
    else:
        runs.append(run)


def _extend_range(ranges: list[BinRange], item: BinRange) -> None:
    if ranges and ranges[-1][1] == item[0]:
        ranges[-1] = (ranges[-1][0], item[1])
    else:
        ranges.append(item)


def encode(runs: list[Run]) -> str:
    """Compact text for the database: "lo-hi*count" joined by commas."""
    return ",".join(f"{lo}-{hi}*{count}" for lo, hi, count in runs)


def decode(text: str) -> list[Run]:
    if not text:
        return []
    runs = []
    for item in text.split(","):
        span, count = item.split("*")
        lo, hi = span.split("-")
        runs.append((int(lo), int(hi), int(count)))
    return runs


def bin_count(duration: int | None, furthest_bin_end: int, resolution: int) -> int:
    """How many bins the retention curve shows: to the duration, or without one to the furthest
    covered bin."""
    if duration:
        return -(-duration // resolution)
    return furthest_bin_end


def difference(old: list[Run], new: list[Run]) -> tuple[list[BinRange], list[BinRange]]:
    """(gained, lost): bins covered by `new` and not `old`, and the reverse."""
    covered = spans
    points = sorted({*(x for r in covered(old) + covered(new) for x in r)})
    gained: list[BinRange] = []
    lost: list[BinRange] = []
    for lo, hi in zip(points, points[1:]):
        before = any(a <= lo < b for a, b in covered(old))
        after = any(a <= lo < b for a, b in covered(new))
        if after and not before:
            _extend_range(gained, (lo, hi))
        elif before and not after:
            _extend_range(lost, (lo, hi))
    return gained, lost
