"""Every analytics fact of one user-movie, straight from its heartbeats: the definition that
recompute, verify and the backfill apply, and that the incremental apply path must agree with."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from watchtime.rule import coverage
from watchtime.rule.attribution import Pair, pairs
from watchtime.rule.credit import Heartbeat, Limits
from watchtime.rule.views import View, views_of


@dataclass
class StreamFigures:
    total: int
    views: list[View]
    newest: Heartbeat


@dataclass
class PairFigures:
    """One user-movie: credit per hour, covered bins, views per stream, the newest heartbeat."""

    credit_by_hour: dict[int, int] = field(default_factory=dict)  # hours with credit > 0
    runs: list[coverage.Run] = field(default_factory=list)
    streams: dict = field(default_factory=dict)  # stream key -> StreamFigures
    newest: Heartbeat | None = None

    @property
    def total(self) -> int:
        return sum(s.total for s in self.streams.values())


def stream_figures(ordered: Sequence[Heartbeat], limits: Limits, gap_us: int) -> tuple[list[Pair], StreamFigures]:
    """The pairs and the figures of one stream's heartbeats, sorted by key."""
    stream_pairs = pairs(ordered, limits)
    return stream_pairs, StreamFigures(
        total=sum(p.credit for p in stream_pairs), views=views_of(ordered, stream_pairs, gap_us), newest=ordered[-1]
    )


def pair_figures(streams: Iterable[tuple[object, Sequence[Heartbeat]]], limits: Limits, gap_us: int, resolution: int) -> PairFigures:
    """`streams`: (stream key, its heartbeats sorted by key) for every stream of the user-movie."""
    figures = PairFigures()
    credit: dict[int, int] = defaultdict(int)
    covered = []
    for key, ordered in streams:
        if not ordered:
            continue
        stream_pairs, figures.streams[key] = stream_figures(ordered, limits, gap_us)
        for pair in stream_pairs:
            if pair.credit > 0:
                credit[pair.hour] += pair.credit
                covered.append(coverage.covered_bins(pair, resolution))
        if figures.newest is None or ordered[-1].key > figures.newest.key:
            figures.newest = ordered[-1]
    figures.credit_by_hour = dict(credit)
    figures.runs = coverage.change([], covered, []).runs
    return figures
