"""Every analytics answer of the API for a data set, and the same figures from the reference,
in one comparable shape (definitions and as_of left out; floats rounded to 9 places)."""

from datetime import timedelta

from tests.accounting.reference import DAY, HOUR, Reference
from watchtime.rule.progress import ProgressDefinition, percent, state
from watchtime.timestamps import EPOCH

THRESHOLDS = "&min_view_seconds=30&completion_ratio=0.5"


def iso(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def _variants(first_day: int, days: int, min_view: int, ratio: float):
    """(query, min view seconds, completion ratio, start, end) of the engagement and top-movies queries."""
    start, end = first_day * DAY, (first_day + days) * DAY
    return [("", min_view, ratio, None, None), (THRESHOLDS, 30, 0.5, None, None),
            (f"&from={iso(start)}&to={iso(end)}", min_view, ratio, start, end)]


def api_answers(client, *, users, slugs, movie_ids, first_day: int, days: int, min_view: int, ratio: float) -> dict:
    span = f"from={iso(first_day * DAY)}&to={iso((first_day + days) * DAY)}"
    out = {}

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        return response.json()

    for slug in slugs:
        m = movie_ids[slug]
        out[("movie-day", slug)] = [(r["watch_time"], r["viewers"]) for r in get(f"/movies/{m}/watch-time/?{span}")["results"]]
        out[("movie-hour", slug)] = [(r["watch_time"], r["viewers"]) for r in
                                     get(f"/movies/{m}/watch-time/?{span}&interval=hour")["results"]]
        for query, *_ in _variants(first_day, days, min_view, ratio):
            body = get(f"/movies/{m}/engagement/?x=1{query}")
            out[("engagement", slug, query)] = {k: _round(v) for k, v in body.items() if k not in ("definitions", "as_of", "from", "to")}
        body = get(f"/movies/{m}/retention/")
        out[("retention", slug)] = (body["viewers"], [(b["start"], b["viewers"]) for b in body["bins"]])
    for user in users:
        out[("user-day", user)] = [(r["watch_time"], r["movies"]) for r in get(f"/users/{user}/watch-time/?{span}")["results"]]
        out[("user-hour", user)] = [(r["watch_time"], r["movies"]) for r in
                                    get(f"/users/{user}/watch-time/?{span}&interval=hour")["results"]]
        out[("views", user)] = sorted(
            (v["slug"], v["session"], v["started_at"], v["ended_at"], v["watch_time"], v["furthest_position"], v["completed"])
            for v in _pages(client, f"/users/{user}/views/?page_size=7")
        )
        out[("progress", user)] = sorted(
            (p["slug"], p["position"], p["last_watched_at"], p["state"], _round(p["percent"]), p["total_watch_time"])
            for p in _pages(client, f"/users/{user}/progress/?state=all&page_size=3")
        )
    out["overall-day"] = [(r["watch_time"], r["viewers"], r["movies"]) for r in get(f"/stats/watch-time/?{span}")["results"]]
    out["overall-hour"] = [(r["watch_time"], r["viewers"], r["movies"]) for r in
                           get(f"/stats/watch-time/?{span}&interval=hour")["results"]]
    for by in ("watch_time", "viewers", "views", "completions"):
        for query in ("", THRESHOLDS):
            body = get(f"/stats/top-movies/?{span}&by={by}&limit=100{query}")
            out[("top", by, query)] = [(r["slug"], r["watch_time"], r["viewers"], r["views"], r["completions"])
                                       for r in body["results"]]
    return out


def reference_answers(ref: Reference, *, users, slugs, movie_ids, durations, first_day: int, days: int,
                      min_view: int, ratio: float, resolution: int, completed_percent: int) -> dict:
    out = {}
    day_buckets = range(first_day, first_day + days)
    hour_buckets = range(first_day * 24, (first_day + days) * 24)
    for slug in slugs:
        out[("movie-day", slug)] = ref.movie_series(slug, DAY, day_buckets)
        out[("movie-hour", slug)] = ref.movie_series(slug, HOUR, hour_buckets)
        for query, mv, r, start, end in _variants(first_day, days, min_view, ratio):
            figures = ref.engagement(slug, start, end, mv, r, durations.get(slug))
            out[("engagement", slug, query)] = {k: _round(v) for k, v in figures.items()}
        out[("retention", slug)] = ref.retention(slug, resolution, durations.get(slug))
    definition = ProgressDefinition(completed_percent=completed_percent)
    for user in users:
        out[("user-day", user)] = ref.user_series(user, DAY, day_buckets)
        out[("user-hour", user)] = ref.user_series(user, HOUR, hour_buckets)
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
    out["overall-day"] = ref.overall_series(DAY, day_buckets)
    out["overall-hour"] = ref.overall_series(HOUR, hour_buckets)
    for by in ("watch_time", "viewers", "views", "completions"):
        for query, mv, r in (("", min_view, ratio), (THRESHOLDS, 30, 0.5)):
            rows = ref.top_movies(first_day, first_day + days, by, 100, mv, r, durations)
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
