"""A straightforward recompute of every analytics figure from the set of events, written from the
the definitions in docs/analytics.md and nothing of the service but the pair credit itself: what the stored,
incrementally maintained figures must equal, in any time zone (local buckets straight from
zoneinfo, minute by minute: no quarter hours)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from watchtime.rule.credit import Limits, credit

MINUTE = 60 * 1_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Event:
    event_id: str
    user: str
    slug: str
    session: str
    at: int
    key_us: int  # ts, else received_at
    ts_us: int | None


@dataclass
class ViewRef:
    user: str
    slug: str
    session: str
    started_us: int
    ended_us: int
    watch_time: int
    furthest: int


def bucket_key(tz: str, interval: str, key_us: int) -> tuple:
    """The local bucket an instant belongs to, by the definition: a day is its local date; an
    hour its local date, hour and offset."""
    local = (EPOCH + timedelta(microseconds=key_us)).astimezone(ZoneInfo(tz))
    return (local.date(),) if interval == "day" else (local.date(), local.hour, local.utcoffset())


def buckets(tz: str, interval: str, start_us: int, end_us: int) -> list[tuple[tuple, str, int]]:
    """(bucket key, its first instant in RFC 3339 with the zone's offset, and in microseconds) of every local bucket
    that [start_us, end_us) meets, oldest first: found minute by minute, assuming nothing of
    the tz database but that offsets change on whole minutes."""
    firsts: dict[tuple, int] = {}
    at = start_us - 26 * HOUR - start_us % MINUTE
    while at < end_us:
        firsts.setdefault(bucket_key(tz, interval, at), at)
        at += MINUTE
    touched = []
    at = start_us - start_us % MINUTE
    while at < end_us:
        key = bucket_key(tz, interval, at)
        if not touched or touched[-1] != key:
            touched.append(key)
        at += MINUTE
    return [(key, _local_iso(tz, firsts[key]), firsts[key]) for key in touched]


def _local_iso(tz: str, moment_us: int) -> str:
    text = (EPOCH + timedelta(microseconds=moment_us)).astimezone(ZoneInfo(tz)).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass
class Reference:
    credit: dict = field(default_factory=lambda: defaultdict(int))  # (user, slug, key of the later heartbeat) -> seconds
    covered: dict = field(default_factory=lambda: defaultdict(set))  # (user, slug) -> bins
    views: list = field(default_factory=list)
    last: dict = field(default_factory=dict)  # (user, slug) -> (key tuple, at)
    totals: dict = field(default_factory=lambda: defaultdict(int))  # (user, slug) -> seconds
    playing: dict = field(default_factory=lambda: defaultdict(set))  # (slug, UTC minute) -> streams playing in it

    # --- the figures the API answers -------------------------------------------------------

    def movie_series(self, slug: str, tz: str, interval: str, span: list) -> list[tuple[str, int, int]]:
        """(start, watch time, viewers) per bucket of `span` (from `buckets`)."""
        out = []
        for key, start, _ in span:
            cells = self._cells(lambda u, s, at: s == slug and bucket_key(tz, interval, at) == key)
            out.append((start, sum(cells.values()), len({u for (u, _), v in cells.items() if v > 0})))
        return out

    def user_series(self, user: str, tz: str, interval: str, span: list) -> list[tuple[str, int, int]]:
        out = []
        for key, start, _ in span:
            cells = self._cells(lambda u, s, at: u == user and bucket_key(tz, interval, at) == key)
            out.append((start, sum(cells.values()), len({s for (_, s), v in cells.items() if v > 0})))
        return out

    def overall_series(self, tz: str, interval: str, span: list) -> list[tuple[str, int, int, int]]:
        out = []
        for key, start, _ in span:
            cells = self._cells(lambda u, s, at: bucket_key(tz, interval, at) == key)
            credited = [k for k, v in cells.items() if v > 0]
            out.append((start, sum(cells.values()), len({u for u, _ in credited}), len({s for _, s in credited})))
        return out

    def top_movies(self, tz: str, days: list, by: str, limit: int, min_view: int, ratio: float, durations):
        """Over the local days `days` (keys from `buckets`)."""
        wanted = {key for key, _, _ in days}
        cells = self._cells(lambda u, s, at: bucket_key(tz, "day", at) in wanted)
        slugs = {s for _, s in cells} | {v.slug for v in self.views}
        rows = []
        for slug in slugs:
            counted = [v for v in self.views if v.slug == slug and bucket_key(tz, "day", v.started_us) in wanted
                       and v.watch_time >= min_view]
            duration = durations.get(slug)
            figures = {
                "watch_time": sum(v for (_, s), v in cells.items() if s == slug),
                "viewers": len({u for (u, s), v in cells.items() if s == slug and v > 0}),
                "views": len(counted),
                "completions": sum(1 for v in counted if duration and v.furthest >= ratio * duration),
            }
            rows.append((slug, figures))
        return [(slug, f) for slug, f in rows if f[by] > 0]  # ordered by the caller (ties by id)

    def engagement(self, slug: str, start_us, end_us, min_view: int, ratio: float, duration) -> dict:
        counted = [v for v in self.views if v.slug == slug and v.watch_time >= min_view
                   and (start_us is None or v.started_us >= start_us) and (end_us is None or v.started_us < end_us)]
        n = len(counted)
        complete = sum(1 for v in counted if duration and v.furthest >= ratio * duration)
        watch = sum(v.watch_time for v in counted)
        return {
            "views": n, "viewers": len({v.user for v in counted}), "watch_time": watch,
            "average_view_seconds": watch / n if n else None,
            "completions": complete if duration else None,
            "completion_rate": complete / n if duration and n else None,
            "average_percent": sum(min(100.0, 100.0 * v.watch_time / duration) for v in counted) / n if duration and n else None,
        }

    def retention(self, slug: str, resolution: int, duration) -> tuple[int, list[tuple[int, int]]]:
        viewers = len({u for (u, s), v in self.totals.items() if s == slug and v > 0})
        bins: dict[int, int] = defaultdict(int)
        for (u, s), covered in self.covered.items():
            if s == slug:
                for k in covered:
                    bins[k] += 1
        count = -(-duration // resolution) if duration else (max(bins, default=-1) + 1)
        return viewers, [(k * resolution, bins.get(k, 0)) for k in range(count)]

    def minutes(self, slug: str | None = None) -> dict[int, int]:
        """Concurrent viewers per UTC minute (of a movie, or overall), minutes with none left out."""
        out: dict[int, int] = defaultdict(int)
        for (s, minute), streams in self.playing.items():
            if slug is None or s == slug:
                out[minute] += len(streams)
        return {m: n for m, n in out.items() if n}

    def peak(self, slug: str | None, start_minute: int, end_minute: int) -> tuple[int, int | None]:
        """(peak, first minute reaching it; None when 0) over [start_minute, end_minute)."""
        values = self.minutes(slug)
        best, at = 0, None
        for minute in range(start_minute, end_minute):
            if values.get(minute, 0) > best:
                best, at = values[minute], minute
        return best, at

    def _cells(self, keep) -> dict:
        cells: dict = defaultdict(int)
        for (u, s, at), seconds in self.credit.items():
            if keep(u, s, at):
                cells[(u, s)] += seconds
        return cells


def compute(events: list[Event], *, limits: Limits, gap_seconds: int, resolution: int) -> Reference:
    ref = Reference()
    distinct = {e.event_id: e for e in events}
    streams: dict = defaultdict(list)
    for e in distinct.values():
        streams[(e.user, e.slug, e.session)].append(e)
    for (user, slug, session), stream in streams.items():
        stream.sort(key=lambda e: (e.key_us, e.at, e.event_id))
        view = None
        previous = None
        for e in stream:
            c = 0
            if previous is not None:
                c = credit(_hb(previous), _hb(e), limits)
                ref.credit[(user, slug, e.key_us)] += c
                ref.totals[(user, slug)] += c
                for position in range(e.at - c, e.at):
                    ref.covered[(user, slug)].add(position // resolution)
                if c > 0:  # plays during [key - c, key): every minute it overlaps by more than zero
                    for minute in range((e.key_us - c * 1_000_000) // MINUTE, (e.key_us - 1) // MINUTE + 1):
                        ref.playing[(slug, minute)].add((user, slug, session))
            if view is None or e.key_us - previous.key_us > gap_seconds * 1_000_000:
                view = ViewRef(user, slug, session, e.key_us, e.key_us, c, e.at)
                ref.views.append(view)
            else:
                view.ended_us, view.watch_time, view.furthest = e.key_us, view.watch_time + c, max(view.furthest, e.at)
            previous = e
            key = (e.key_us, e.at, e.event_id)
            if (user, slug) not in ref.last or key > ref.last[(user, slug)][0]:
                ref.last[(user, slug)] = (key, e.at)
        ref.totals.setdefault((user, slug), 0)
    return ref


def _hb(e: Event):
    import uuid

    from watchtime.rule.credit import Heartbeat

    return Heartbeat(event_id=uuid.UUID(e.event_id), at=e.at, ts_us=e.ts_us, key_us=e.key_us)
