"""What a prune keeps of a stream's pruned heartbeats, so that every figure stays exact: the
newest pruned heartbeat (the anchor: the predecessor of the first kept one), the credit of the
pruned pairs, and the state up to the anchor of the view that holds it.

A pair belongs to the prune when its later heartbeat is pruned; its credit, covered bins and
hour stay in the stored figures, and the kept heartbeats continue from the anchor.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from watchtime.rule import coverage
from watchtime.rule.attribution import Pair
from watchtime.rule.credit import Heartbeat, Limits, credit


@dataclass(frozen=True)
class Anchor:
    heartbeat: Heartbeat | None = None
    folded_total: int = 0
    view_started_us: int | None = None  # the view holding the anchor: its start ...
    view_watch_time: int = 0  # ... and its watch time and furthest position up to the anchor
    view_furthest: int = 0


@dataclass
class Fold:
    anchor: Anchor
    covered: list[coverage.BinRange] = field(default_factory=list)  # bins of the pairs folded now


def fold(anchor: Anchor, pruned: Sequence[Heartbeat], limits: Limits, gap_us: int, resolution: int) -> Fold:
    """Fold `pruned` (the stream's heartbeats newer than the anchor and older than the horizon,
    sorted by key) into the anchor."""
    previous = anchor.heartbeat
    total = anchor.folded_total
    started, watch, furthest = anchor.view_started_us, anchor.view_watch_time, anchor.view_furthest
    covered = []
    for hb in pruned:
        c = credit(previous, hb, limits) if previous is not None else 0
        total += c
        if c > 0:
            covered.append(coverage.covered_bins(Pair(previous, hb, c), resolution))
        if previous is None or hb.key_us - previous.key_us > gap_us:
            started, watch, furthest = hb.key_us, c, hb.at
        else:
            watch, furthest = watch + c, max(furthest, hb.at)
        previous = hb
    return Fold(Anchor(previous, total, started, watch, furthest), covered)
