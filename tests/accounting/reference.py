"""A straightforward recompute of every analytics figure from the set of events, written from the
the definitions in docs/analytics.md and nothing of the service but the pair credit itself: what the stored,
incrementally maintained figures must equal."""

from collections import defaultdict
from dataclasses import dataclass, field

from watchtime.rule.credit import Limits, credit

MINUTE = 60 * 1_000_000
HOUR = 3600 * 1_000_000
DAY = 24 * HOUR


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


@dataclass
class Reference:
    credit: dict = field(default_factory=lambda: defaultdict(int))  # (user, slug, hour) -> seconds
    covered: dict = field(default_factory=lambda: defaultdict(set))  # (user, slug) -> bins
    views: list = field(default_factory=list)
    last: dict = field(default_factory=dict)  # (user, slug) -> (key tuple, at)
    totals: dict = field(default_factory=lambda: defaultdict(int))  # (user, slug) -> seconds
    playing: dict = field(default_factory=lambda: defaultdict(set))  # (slug, UTC minute) -> streams playing in it

    # --- the figures the API answers -------------------------------------------------------

    def movie_series(self, slug: str, bucket_us: int, buckets: range) -> list[tuple[int, int]]:
        out = []
        for b in buckets:
            cells = self._cells(lambda u, s, hour: s == slug and _in_bucket(hour, b, bucket_us))
            out.append((sum(cells.values()), len({u for (u, _), v in cells.items() if v > 0})))
        return out

    def user_series(self, user: str, bucket_us: int, buckets: range) -> list[tuple[int, int]]:
        out = []
        for b in buckets:
            cells = self._cells(lambda u, s, hour: u == user and _in_bucket(hour, b, bucket_us))
            out.append((sum(cells.values()), len({s for (_, s), v in cells.items() if v > 0})))
        return out

    def overall_series(self, bucket_us: int, buckets: range) -> list[tuple[int, int, int]]:
        out = []
        for b in buckets:
            cells = self._cells(lambda u, s, hour: _in_bucket(hour, b, bucket_us))
            credited = [k for k, v in cells.items() if v > 0]
            out.append((sum(cells.values()), len({u for u, _ in credited}), len({s for _, s in credited})))
        return out

    def top_movies(self, first_day: int, end_day: int, by: str, limit: int, min_view: int, ratio: float, durations):
        cells = self._cells(lambda u, s, hour: first_day <= hour * HOUR // DAY < end_day)
        slugs = {s for _, s in cells} | {v.slug for v in self.views}
        rows = []
        for slug in slugs:
            counted = [v for v in self.views if v.slug == slug and first_day <= v.started_us // DAY < end_day
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
        for (u, s, hour), seconds in self.credit.items():
            if keep(u, s, hour):
                cells[(u, s)] += seconds
        return cells


def _in_bucket(hour: int, bucket: int, bucket_us: int) -> bool:
    return hour * HOUR // bucket_us == bucket


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
                ref.credit[(user, slug, e.key_us // HOUR)] += c
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
