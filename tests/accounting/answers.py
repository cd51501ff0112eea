"""Every analytics answer of the API for a data set, and the same figures from the reference,
in one comparable shape (definitions and as_of left out; floats rounded to 9 places)."""

from datetime import timedelta
from urllib.parse import quote

from tests.accounting.reference import DAY, Reference, buckets
from watchtime.rule.progress import ProgressDefinition, percent, state
from watchtime.timestamps import EPOCH

THRESHOLDS = "&min_view_seconds=30&completion_ratio=0.5"


def iso(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def _variants(tz: str, first_day: int, days: int, min_view: int, ratio: float):
    """(query, min view seconds, completion ratio, start, end) of the engagement queries: open, the
    UTC days as instants, and the local days of the zone as dates (local midnights)."""
    start, end = first_day * DAY, (first_day + days) * DAY
    local_days = buckets(tz, "day", start, end)
    first, last = local_days[0], local_days[-1]
    after = buckets(tz, "day", last[2] + 26 * 3_600_000_000, last[2] + 26 * 3_600_000_000 + 1)[0]
    return [("", min_view, ratio, None, None), (THRESHOLDS, 30, 0.5, None, None),
            (f"&from={iso(start)}&to={iso(end)}", min_view, ratio, start, end),
            (f"&from={first[0][0].isoformat()}&to={after[0][0].isoformat()}", min_view, ratio, first[2], after[2])]


def api_answers(client, *, tz="UTC", users, slugs, movie_ids, first_day: int, days: int, min_view: int, ratio: float) -> dict:
    span = f"from={iso(first_day * DAY)}&to={iso((first_day + days) * DAY)}&tz={quote(tz)}"
    out = {}

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        return response.json()

    for slug in slugs:
        m = movie_ids[slug]
        out[("movie-day", slug)] = [(r["start"], r["watch_time"], r["viewers"]) for r in
                                    get(f"/movies/{m}/watch-time/?{span}")["results"]]
        out[("movie-hour", slug)] = [(r["start"], r["watch_time"], r["viewers"]) for r in
                                     get(f"/movies/{m}/watch-time/?{span}&interval=hour")["results"]]
        for query, *_ in _variants(tz, first_day, days, min_view, ratio):
            body = get(f"/movies/{m}/engagement/?tz={quote(tz)}{query}")
            out[("engagement", slug, query)] = {k: _round(v) for k, v in body.items() if k not in ("definitions", "as_of", "from", "to", "tz")}
        body = get(f"/movies/{m}/retention/")
        out[("retention", slug)] = (body["viewers"], [(b["start"], b["viewers"]) for b in body["bins"]])
    for user in users:
        out[("user-day", user)] = [(r["start"], r["watch_time"], r["movies"]) for r in
                                   get(f"/users/{user}/watch-time/?{span}")["results"]]
        out[("user-hour", user)] = [(r["start"], r["watch_time"], r["movies"]) for r in
                                    get(f"/users/{user}/watch-time/?{span}&interval=hour")["results"]]
        out[("views", user)] = sorted(
            (v["slug"], v["session"], v["started_at"], v["ended_at"], v["watch_time"], v["furthest_position"], v["completed"])
            for v in _pages(client, f"/users/{user}/views/?page_size=7")
        )
        out[("progress", user)] = sorted(
            (p["slug"], p["position"], p["last_watched_at"], p["state"], _round(p["percent"]), p["total_watch_time"])
            for p in _pages(client, f"/users/{user}/progress/?state=all&page_size=3")
        )
    out["overall-day"] = [(r["start"], r["watch_time"], r["viewers"], r["movies"]) for r in
                          get(f"/stats/watch-time/?{span}")["results"]]
    out["overall-hour"] = [(r["start"], r["watch_time"], r["viewers"], r["movies"]) for r in
                           get(f"/stats/watch-time/?{span}&interval=hour")["results"]]
    for by in ("watch_time", "viewers", "views", "completions"):
        for query in ("", THRESHOLDS):
            body = get(f"/stats/top-movies/?{span}&by={by}&limit=100{query}")
            out[("top", by, query)] = [(r["slug"], r["watch_time"], r["viewers"], r["views"], r["completions"])
                                       for r in body["results"]]
    return out


def reference_answers(ref: Reference, *, tz="UTC", users, slugs, movie_ids, durations, first_day: int, days: int,
                      min_view: int, ratio: float, resolution: int, completed_percent: int) -> dict:
    out = {}
    start, end = first_day * DAY, (first_day + days) * DAY
    day_buckets, hour_buckets = buckets(tz, "day", start, end), buckets(tz, "hour", start, end)
    for slug in slugs:
        out[("movie-day", slug)] = ref.movie_series(slug, tz, "day", day_buckets)
        out[("movie-hour", slug)] = ref.movie_series(slug, tz, "hour", hour_buckets)
        for query, mv, r, start, end in _variants(tz, first_day, days, min_view, ratio):
            figures = ref.engagement(slug, start, end, mv, r, durations.get(slug))
            out[("engagement", slug, query)] = {k: _round(v) for k, v in figures.items()}
        out[("retention", slug)] = ref.retention(slug, resolution, durations.get(slug))
    definition = ProgressDefinition(completed_percent=completed_percent)
    for user in users:
        out[("user-day", user)] = ref.user_series(user, tz, "day", day_buckets)
        out[("user-hour", user)] = ref.user_series(user, tz, "hour", hour_buckets)
        out[("views", user)] = sorted(
            (v.slug, v.session, iso(v.started_us), iso(v.ended_us), v.watch_time, v.furthest,
             (v.furthest >= ratio * durations[v.slug]) if durations.get(v.slug) else None)
            for v in ref.views if v.user == user and v.watch_time >= min_view
        )
        out[("progress", user)] = sorted(
            (slug, at, iso(key[0]), state(at, durations.get(slug), definition), _round(percent(at, durations.get(slug))),
             ref.totals[(user, slug)])
            for (u, slug), (key, at) in ref.last.items() if u == user
        )
    out["overall-day"] = ref.overall_series(tz, "day", day_buckets)
    out["overall-hour"] = ref.overall_series(tz, "hour", hour_buckets)
    for by in ("watch_time", "viewers", "views", "completions"):
        for query, mv, r in (("", min_view, ratio), (THRESHOLDS, 30, 0.5)):
            rows = ref.top_movies(tz, day_buckets, by, 100, mv, r, durations)
            rows.sort(key=lambda item: (-item[1][by], movie_ids[item[0]]))
            out[("top", by, query)] = [(s, f["watch_time"], f["viewers"], f["views"], f["completions"]) for s, f in rows]
    return out


def _round(value):
    return round(value, 9) if isinstance(value, float) else value


def _pages(client, url):
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        yield from body["results"]
        url = body["next"]
