"""The event log as the source of truth of the totals: recompute every stored total (streams,
watch times, users, movies) from it, report drift (`watchtime verify`) and rebuild (`watchtime
recompute`). Memory stays bounded by the number of streams and user-movie pairs: events are
streamed in stream order. After a prune, a stream continues from what was folded into it (its
anchor and folded credit, events.horizon)."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction

from watchtime.db import bulk_sql
from watchtime.definitions import limits_from_settings
from watchtime.events.horizon import anchored_streams
from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime
from watchtime.rule.credit import Heartbeat, Limits, Newest, credit, newest
from watchtime.rule.folding import Anchor


@dataclass
class StreamTotals:
    """A stream's expected state, recomputed from its kept events and what a prune folded."""

    stream_id: int
    user_id: int
    movie_id: int
    total: int = 0
    head: Newest | None = None  # None: every event was pruned (the stored head is then taken as it is)


@dataclass
class PairTotals:
    total: int = 0
    last: Newest | None = None


@dataclass
class ExpectedTotals:
    """What every stored total should be, summed from recomputed streams."""

    pairs: dict[tuple[int, int], PairTotals] = field(default_factory=lambda: defaultdict(PairTotals))
    users: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    movies: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, stream: StreamTotals) -> None:
        pair = self.pairs[(stream.user_id, stream.movie_id)]
        pair.total += stream.total
        pair.last = newest(pair.last, stream.head)
        self.users[stream.user_id] += stream.total
        self.movies[stream.movie_id] += stream.total


def streams_recomputed(*, limits: Limits, chunk_size: int = 5000) -> Iterator[StreamTotals]:
    """Every stream's total and head from the event log (and its anchor), in stream-id order
    (streams whose every event was pruned last).

    Holds one stream's previous event at a time, so memory does not grow with the log.
    """
    anchored = anchored_streams()
    rows = (
        Event.objects.order_by("stream_id", "sort_us", "at", "event_id")
        .values_list("id", "stream_id", "user_id", "movie_id", "event_id", "at", "ts_us", "sort_us")
        .iterator(chunk_size=chunk_size)
    )
    current = None
    previous: Heartbeat | None = None
    for event_pk, stream_id, user_id, movie_id, event_id, at, ts_us, sort_us in rows:
        heartbeat = Heartbeat(event_id=event_id, at=at, ts_us=ts_us, key_us=sort_us)
        if current is None or current.stream_id != stream_id:
            if current is not None:
                yield current
            _, _, anchor = anchored.pop(stream_id, (None, None, Anchor()))
            current = StreamTotals(stream_id, user_id, movie_id, total=anchor.folded_total)
            previous = anchor.heartbeat
        if previous is not None:
            current.total += credit(previous, heartbeat, limits)
        current.head = Newest(key=heartbeat.key, pk=event_pk, at=at)
        previous = heartbeat
    if current is not None:
        yield current
    for stream_id, (user_id, movie_id, anchor) in sorted(anchored.items()):
        yield StreamTotals(stream_id, user_id, movie_id, total=anchor.folded_total)


def totals_drift(*, limits: Limits) -> list[str]:
    """Differences between stored totals and totals recomputed from the event log (read-only)."""
    drift: list[str] = []
    expected = ExpectedTotals()
    # The head pointers have no database constraint (see models.EVENT_POINTER): checked here.
    stored_streams = {pk: (total, head) for pk, total, head in Stream.objects.values_list("id", "total", "head_id")}
    head_keys = dict(Stream.objects.values_list("id", "head_key_us"))
    seen_streams = set()
    for stream in streams_recomputed(limits=limits):
        seen_streams.add(stream.stream_id)
        expected.add(stream)
        stored = stored_streams.get(stream.stream_id)
        want = (stream.total, stream.head.pk if stream.head else (stored or (0, None))[1])
        if stored != want:
            drift.append(f"stream {stream.stream_id}: stored (total, head) {stored}, expected {want}")
        elif stream.head and head_keys.get(stream.stream_id) != stream.head.key[0]:
            drift.append(f"stream {stream.stream_id}: head_key_us {head_keys.get(stream.stream_id)}, expected {stream.head.key[0]}")
    for stream_id, (total, head) in stored_streams.items():
        if stream_id not in seen_streams and (total, head) != (0, None):
            drift.append(f"stream {stream_id}: stored (total, head) {(total, head)}, expected (0, None)")
    watch_times = WatchTime.objects.values_list("user_id", "movie_id", "total", "last_moment", "last_event_id")
    for user_id, movie_id, total, last_moment, last_event in watch_times:
        pair = expected.pairs.pop((user_id, movie_id), PairTotals())
        # Every event pruned: the newest one is gone, the stored pointer stands.
        newest_kept = (pair.last.at, pair.last.pk) if pair.last else (last_moment, last_event) if pair.total else (0, None)
        want = (pair.total, *newest_kept)
        if (total, last_moment, last_event) != want:
            drift.append(
                f"watch time user={user_id} movie={movie_id}: stored (total, last_moment, last_event) "
                f"{(total, last_moment, last_event)}, expected {want}"
            )
    drift += [f"watch time user={u} movie={m}: missing" for (u, m) in expected.pairs]
    for model, sums, label in ((CustomUser, expected.users, "user"), (Movie, expected.movies, "movie")):
        for pk, total in model.objects.values_list("id", "total_watch_time"):
            if total != sums.get(pk, 0):
                drift.append(f"{label} {pk}: stored total {total}, expected {sums.get(pk, 0)}")
    return drift


@transaction.atomic
def totals_recompute(*, limits: Limits | None = None, chunk_size: int = 1000) -> int:
    """Rebuild every stored total from the event log; returns the number of streams.

    Run with the consumers stopped (scaled to zero): batches applied meanwhile would be
    overwritten by totals computed before them.
    """
    limits = limits or limits_from_settings()
    expected = ExpectedTotals()
    stream_rows = []  # (id, total, head id, its key time), written a chunk at a time: memory stays bounded
    folded_rows = []  # (id, total) of streams whose every event was pruned: their head stands
    recomputed = set()
    count = 0
    for stream in streams_recomputed(limits=limits):
        count += 1
        recomputed.add(stream.stream_id)
        expected.add(stream)
        if stream.head is None:
            folded_rows.append((stream.stream_id, stream.total))
        else:
            stream_rows.append((stream.stream_id, stream.total, stream.head.pk, stream.head.key[0]))
        if len(stream_rows) >= chunk_size:
            bulk_sql.update_from_values(Stream, ("total", "head_id", "head_key_us"), stream_rows)
            stream_rows = []
    bulk_sql.update_from_values(Stream, ("total", "head_id", "head_key_us"), stream_rows)
    bulk_sql.update_from_values(Stream, ("total",), folded_rows)
    empty = set(Stream.objects.values_list("id", flat=True)) - recomputed
    Stream.objects.filter(id__in=empty).update(total=0, head=None, head_key_us=None)

    by_pair = {(u, m): pk for pk, u, m in WatchTime.objects.values_list("id", "user_id", "movie_id")}
    watch_time_rows = []  # (id, total, last_event id, last_moment)
    totals_only = []  # (id, total) of user-movies whose every event was pruned
    for (user_id, movie_id), pair in expected.pairs.items():
        if (user_id, movie_id) not in by_pair:
            by_pair[(user_id, movie_id)] = WatchTime.objects.create(user_id=user_id, movie_id=movie_id).pk
        if pair.last is None:
            totals_only.append((by_pair[(user_id, movie_id)], pair.total))
        else:
            watch_time_rows.append((by_pair[(user_id, movie_id)], pair.total, pair.last.pk, pair.last.at))
    stale = set(by_pair) - set(expected.pairs)
    WatchTime.objects.filter(id__in=[by_pair[p] for p in stale]).update(total=0, last_moment=0, last_event=None)
    bulk_sql.update_from_values(WatchTime, ("total", "last_event_id", "last_moment"), watch_time_rows)
    bulk_sql.update_from_values(WatchTime, ("total",), totals_only)

    CustomUser.objects.update(total_watch_time=0)
    Movie.objects.update(total_watch_time=0)
    for model, sums in ((CustomUser, expected.users), (Movie, expected.movies)):
        bulk_sql.update_from_values(model, ("total_watch_time",), list(sums.items()))
    return count
