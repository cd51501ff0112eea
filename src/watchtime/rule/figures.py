"""Every analytics fact of one user-movie, straight from its heartbeats: the definition that
recompute, verify and the backfill apply, and that the incremental apply path must agree with."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from watchtime.rule import coverage
from watchtime.rule.attribution import Pair, pairs
from watchtime.rule.credit import Heartbeat, Limits
from watchtime.rule.folding import Anchor
from watchtime.rule.views import View, views_of


@dataclass
class StreamFigures:
    total: int
    views: list[View]  # after a prune: from the view holding the anchor on
    newest: Heartbeat


@dataclass
class PairFigures:
    """One user-movie: credit per quarter, covered bins, views per stream, the newest heartbeat."""

    credit_by_quarter: dict[int, int] = field(default_factory=dict)  # quarters with credit > 0
    runs: list[coverage.Run] = field(default_factory=list)
    streams: dict = field(default_factory=dict)  # stream key -> StreamFigures
    newest: Heartbeat | None = None

    @property
    def total(self) -> int:
        return sum(s.total for s in self.streams.values())


def stream_figures(ordered: Sequence[Heartbeat], limits: Limits, gap_us: int,
                   anchor: Anchor | None = None) -> tuple[list[Pair], StreamFigures]:
    """The pairs and the figures of one stream's kept heartbeats (sorted by key), continuing from
    what a prune folded into `anchor`; the pairs are the kept ones (their later heartbeat kept)."""
    if anchor is None or anchor.heartbeat is None:
        stream_pairs = pairs(ordered, limits)
        return stream_pairs, StreamFigures(sum(p.credit for p in stream_pairs), views_of(ordered, stream_pairs, gap_us),
                                           ordered[-1])
    chained = [anchor.heartbeat, *ordered]
    stream_pairs = pairs(chained, limits)
    views = views_of(chained, stream_pairs, gap_us)
    first = views[0]  # holds the anchor: continue the folded view
    views[0] = replace(first, started_us=anchor.view_started_us, watch_time=first.watch_time + anchor.view_watch_time,
                       furthest_position=max(first.furthest_position, anchor.view_furthest))
    total = anchor.folded_total + sum(p.credit for p in stream_pairs)
    return stream_pairs, StreamFigures(total, views, chained[-1])


def pair_figures(streams: Iterable[tuple[object, Sequence[Heartbeat]]], limits: Limits, gap_us: int, resolution: int,
                 *, anchors: dict | None = None, folded_runs: list | None = None) -> PairFigures:
    """`streams`: (stream key, its kept heartbeats sorted by key) for every stream of the
    user-movie; `anchors`: stream key -> Anchor of the streams a prune folded; `folded_runs`:
    the coverage of the folded pairs."""
    anchors = anchors or {}
    figures = PairFigures()
    credit: dict[int, int] = defaultdict(int)
    covered = []
    keyed = dict(streams)
    for key in [*keyed, *(k for k in anchors if k not in keyed)]:
        ordered = keyed.get(key, [])
        anchor = anchors.get(key)
        if not ordered and (anchor is None or anchor.heartbeat is None):
            continue
        stream_pairs, figures.streams[key] = stream_figures(ordered, limits, gap_us, anchor)
        for pair in stream_pairs:
            if pair.credit > 0:
                credit[pair.quarter] += pair.credit
                covered.append(coverage.covered_bins(pair, resolution))
        newest = figures.streams[key].newest
        if figures.newest is None or newest.key > figures.newest.key:
            figures.newest = newest
    figures.credit_by_quarter = dict(credit)
    figures.runs = coverage.change(folded_runs or [], covered, []).runs
    return figures
