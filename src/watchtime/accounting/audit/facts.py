"""Reading the event log and the stored facts one user-movie at a time, in (user, movie) order,
so that checking or rebuilding every user-movie holds one of them in memory at a time."""

from collections.abc import Iterator
from itertools import groupby

from watchtime.analytics.models import UserMovieQuarter, View
from watchtime.events.horizon import ANCHOR_FIELDS, anchor_of
from watchtime.events.models import Event, Stream, WatchTime
from watchtime.rule import coverage
from watchtime.rule.credit import Heartbeat
from watchtime.rule.folding import Anchor
from watchtime.rule.views import View as ViewFact

CHUNK = 5000


def pair_events(queryset=None) -> Iterator[tuple[tuple[int, int], dict[int, list[Heartbeat]]]]:
    """((user, movie), {stream id: its heartbeats by key}) for every user-movie with events."""
    rows = (
        (queryset if queryset is not None else Event.objects.all())
        .order_by("user_id", "movie_id", "stream_id", "sort_us", "at", "event_id")
        .values_list("user_id", "movie_id", "stream_id", "event_id", "at", "ts_us", "sort_us")
        .iterator(chunk_size=CHUNK)
    )
    for pair, events in groupby(rows, key=lambda r: (r[0], r[1])):
        streams: dict[int, list[Heartbeat]] = {}
        for _, _, stream_id, event_id, at, ts_us, sort_us in events:
            streams.setdefault(stream_id, []).append(Heartbeat(event_id=event_id, at=at, ts_us=ts_us, key_us=sort_us))
        yield pair, streams


def stored_credit() -> Iterator[tuple[tuple[int, int], dict[int, int]]]:
    rows = UserMovieQuarter.objects.order_by("user_id", "movie_id", "quarter").values_list(
        "user_id", "movie_id", "quarter", "watch_time").iterator(chunk_size=CHUNK)
    for pair, items in groupby(rows, key=lambda r: (r[0], r[1])):
        yield pair, {quarter: wt for _, _, quarter, wt in items if wt}


def stored_views() -> Iterator[tuple[tuple[int, int], dict[int, list[ViewFact]]]]:
    rows = View.objects.order_by("user_id", "movie_id", "stream_id", "started_us").values_list(
        "user_id", "movie_id", "stream_id", "id", "started_us", "ended_us", "watch_time", "furthest_position"
    ).iterator(chunk_size=CHUNK)
    for pair, items in groupby(rows, key=lambda r: (r[0], r[1])):
        streams: dict[int, list[ViewFact]] = {}
        for _, _, stream_id, *view in items:
            streams.setdefault(stream_id, []).append(ViewFact(*view))
        yield pair, streams


def stored_watch_times() -> Iterator[tuple[tuple[int, int], tuple]]:
    """(user, movie) -> (id, coverage runs, last_watched_us, analytics_ready, folded coverage runs)."""
    rows = WatchTime.objects.order_by("user_id", "movie_id").values_list(
        "user_id", "movie_id", "id", "coverage", "last_watched_us", "analytics_ready", "folded_coverage",
    ).iterator(chunk_size=CHUNK)
    for user_id, movie_id, pk, runs, last_watched_us, ready, folded in rows:
        yield (user_id, movie_id), (pk, coverage.decode(runs), last_watched_us, ready, coverage.decode(folded))


def stored_anchors() -> Iterator[tuple[tuple[int, int], dict[int, Anchor]]]:
    """(user, movie) -> {stream id: its anchor} of the streams a prune folded."""
    rows = Stream.objects.filter(anchor_key_us__isnull=False).order_by("user_id", "movie_id", "id").only(
        "id", "user_id", "movie_id", *ANCHOR_FIELDS).iterator(chunk_size=CHUNK)
    for pair, items in groupby(rows, key=lambda s: (s.user_id, s.movie_id)):
        yield pair, {s.id: anchor_of(s) for s in items}


def stored_last_views() -> Iterator[tuple[tuple[int, int], dict[int, int | None]]]:
    rows = Stream.objects.order_by("user_id", "movie_id", "id").values_list(
        "user_id", "movie_id", "id", "last_view_id").iterator(chunk_size=CHUNK)
    for pair, items in groupby(rows, key=lambda r: (r[0], r[1])):
        yield pair, {stream_id: view_id for _, _, stream_id, view_id in items}


def merged(*iterators) -> Iterator[tuple[tuple[int, int], list]]:
    """Zip iterators of (pair, value), each sorted by pair, into (pair, [value or None, ...])."""
    heads = [next(it, None) for it in iterators]
    while any(h is not None for h in heads):
        pair = min(h[0] for h in heads if h is not None)
        values = []
        for i, head in enumerate(heads):
            if head is not None and head[0] == pair:
                values.append(head[1])
                heads[i] = next(iterators[i], None)
            else:
                values.append(None)
        yield pair, values
