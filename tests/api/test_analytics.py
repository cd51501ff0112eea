"""The analytics API's contract (issues 13 and 14) through the real Django stack with API keys:
shapes, dense series, ranges and their limits, errors, scopes, hiding progress, per-request
thresholds, duration changes and retention. Heartbeats go in through the ingest API (the
embedded mode applies them in the request); every expected figure is derived by hand in a comment.

Times are seconds after T0 (2026-01-01T00:00:00Z, a Thursday); `heartbeat(at=, ts=)` as in
tests/conftest.py; limits the defaults (a pair with clocks credits min(played, wall + 1, 120))."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import T0, heartbeat
from watchtime.accounting.audit.analytics import analytics_drift
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import Event, Movie

pytestmark = pytest.mark.django_db

DAY = 86400
DEFINITIONS = {"view_gap_seconds": 1800, "min_view_seconds": 10, "completion_ratio": 0.9, "completed_percent": 90,
               "retention_resolution_seconds": 10}
SERIES_KEYS = {"interval", "from", "to", "tz", "results", "definitions", "as_of"}
PAGE_KEYS = {"next", "previous", "results", "definitions", "as_of"}


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def ingest(client, *items) -> None:
    response = client.post("/", data=json.dumps(list(items)), content_type="application/json")
    assert response.status_code == 202, response.content


def watch(client, user: str, slug: str, *points, session: str = "") -> None:
    """One request of (at, ts) heartbeats."""
    ingest(client, *(heartbeat(user=user, slug=slug, at=at, ts=ts, session=session) for at, ts in points))


def get(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, (url, response.content[:500])
    return response.json()


def movie(slug: str, duration: int | None = None) -> int:
    return Movie.objects.create(slug=slug, title=f"Title {slug}", duration=duration).pk


def assert_error(body: dict, *needles: str) -> None:
    """The one error shape; every needle is in the message or the details."""
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "invalid"
    text = body["error"]["message"] + json.dumps(body["error"]["details"])
    for needle in needles:
        assert needle in text, (needle, body)


def verified() -> None:
    assert analytics_drift(limits=limits_from_settings(), definitions=definitions_from_settings()) == []


# --- time series ------------------------------------------------------------------------------


@pytest.fixture
def series_data(client_all):
    """alice m1 on day 0, 01:00:00-01:00:20 (two pairs of 10: 20 s in hour 1); alice m2 on day 0,
    01:30:00-01:30:05 (5 s in hour 1); bob m1 on day 2, 02:00:00-02:00:10 (10 s in hour 50)."""
    m1, m2 = movie("m1"), movie("m2")
    watch(client_all, "alice", "m1", (0, 3600), (10, 3610), (20, 3620))
    watch(client_all, "alice", "m2", (0, 5400), (5, 5405))
    watch(client_all, "bob", "m1", (0, 2 * DAY + 7200), (10, 2 * DAY + 7210))
    return m1, m2


def test_movie_series_by_day_is_dense_and_oldest_first(client_all, series_data):
    m1, _ = series_data
    body = get(client_all, f"/movies/{m1}/watch-time/?from=2026-01-01&to=2026-01-04")
    assert set(body) == SERIES_KEYS
    assert (body["interval"], body["from"], body["to"]) == ("day", iso(0), iso(3 * DAY))
    assert body["definitions"] == DEFINITIONS
    # Day 0: alice's 20 s; day 1 nothing (a zero row, not a gap); day 2: bob's 10 s.
    assert body["results"] == [
        {"start": iso(0), "watch_time": 20, "viewers": 1},
        {"start": iso(DAY), "watch_time": 0, "viewers": 0},
        {"start": iso(2 * DAY), "watch_time": 10, "viewers": 1},
    ]


def test_user_series_counts_movies_and_overall_both(client_all, series_data):
    span = "from=2026-01-01&to=2026-01-04"
    user = get(client_all, f"/users/alice/watch-time/?{span}")
    assert set(user) == SERIES_KEYS
    # alice: 20 + 5 s on day 0 over two movies.
    assert user["results"] == [
        {"start": iso(0), "watch_time": 25, "movies": 2},
        {"start": iso(DAY), "watch_time": 0, "movies": 0},
        {"start": iso(2 * DAY), "watch_time": 0, "movies": 0},
    ]
    overall = get(client_all, f"/stats/watch-time/?{span}")
    assert set(overall) == SERIES_KEYS
    # Day 0: 25 s by one viewer over two movies; day 2: bob's 10 s on m1.
    assert overall["results"] == [
        {"start": iso(0), "watch_time": 25, "viewers": 1, "movies": 2},
        {"start": iso(DAY), "watch_time": 0, "viewers": 0, "movies": 0},
        {"start": iso(2 * DAY), "watch_time": 10, "viewers": 1, "movies": 1},
    ]


def test_hour_series_floors_from_and_ceils_to(client_all, series_data):
    m1, _ = series_data
    # 00:30 floors to 00:00 and 02:10 ceils to 03:00: hours 0, 1, 2.
    body = get(client_all, f"/movies/{m1}/watch-time/?interval=hour&from={iso(1800)}&to={iso(7800)}")
    assert (body["interval"], body["from"], body["to"]) == ("hour", iso(0), iso(3 * 3600))
    assert [(r["start"], r["watch_time"], r["viewers"]) for r in body["results"]] == [
        (iso(0), 0, 0), (iso(3600), 20, 1), (iso(7200), 0, 0)]
    users = get(client_all, f"/users/alice/watch-time/?interval=hour&from={iso(1800)}&to={iso(7800)}")
    assert [(r["watch_time"], r["movies"]) for r in users["results"]] == [(0, 0), (25, 2), (0, 0)]
    overall = get(client_all, f"/stats/watch-time/?interval=hour&from={iso(1800)}&to={iso(7800)}")
    assert [(r["watch_time"], r["viewers"], r["movies"]) for r in overall["results"]] == [(0, 0, 0), (25, 1, 2), (0, 0, 0)]


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        pytest.param("from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z", DAY, 2 * DAY, id="whole days stay"),
        pytest.param("from=2026-01-02T23:59:59Z&to=2026-01-03T00:00:01Z", DAY, 3 * DAY, id="floored and ceiled"),
        pytest.param("from=2026-01-02T01:00:00%2B02:00&to=2026-01-03", 0, 2 * DAY, id="an offset is converted to UTC first"),
        pytest.param("from=2026-01-02&to=2026-01-02T00:00:00.000001Z", DAY, 2 * DAY, id="a microsecond into a day"),
    ],
)
def test_day_ranges_are_floored_and_ceiled(client_all, series_data, query, start, end):
    body = get(client_all, f"/stats/watch-time/?{query}")
    assert (body["from"], body["to"]) == (iso(start), iso(end))
    assert [r["start"] for r in body["results"]] == [iso(s) for s in range(start, end, DAY)]


def _ceil(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + -((epoch - moment) // step) * step


@pytest.mark.parametrize(("interval", "step", "count"), [("day", timedelta(days=1), 30), ("hour", timedelta(hours=1), 48)])
def test_default_range_is_the_last_30_days_or_48_hours_up_to_now(client_all, interval, step, count):
    before = timezone.now()
    body = get(client_all, f"/stats/watch-time/?interval={interval}")
    after = timezone.now()
    end = datetime.fromisoformat(body["to"])
    assert _ceil(before, step) <= end <= _ceil(after, step)
    assert datetime.fromisoformat(body["from"]) == end - count * step
    assert len(body["results"]) == count and all(r["watch_time"] == 0 for r in body["results"])
    assert datetime.fromisoformat(body["results"][-1]["start"]) == end - step


def test_default_interval_is_day(client_all):
    assert get(client_all, "/stats/watch-time/?from=2026-01-01&to=2026-01-02")["interval"] == "day"


def test_the_longest_ranges_are_allowed(client_all):
    assert len(get(client_all, "/stats/watch-time/?from=2025-01-01&to=2026-01-02")["results"]) == 366
    hours = get(client_all, "/stats/watch-time/?interval=hour&from=2026-01-01&to=2026-02-01")
    assert len(hours["results"]) == 31 * 24


@pytest.mark.parametrize(
    ("query", "needles"),
    [
        pytest.param("interval=week", ["interval", "week"], id="bad interval"),
        pytest.param("from=yesterday", ["from", "RFC 3339", "YYYY-MM-DD"], id="bad from"),
        pytest.param("to=2026-02-30", ["to", "YYYY-MM-DD"], id="impossible date"),
        pytest.param("from=2026-01-01T10:00:00", ["from"], id="a date-time without offset"),
        pytest.param("from=2026-01-03&to=2026-01-02", ["before"], id="from after to"),
        pytest.param("from=2026-01-02&to=2026-01-02", ["before"], id="from equal to to"),
        pytest.param("from=2025-01-01&to=2026-01-03", ["366 days"], id="367 days"),
        pytest.param("interval=hour&from=2026-01-01&to=2026-02-01T00:00:01Z", ["744 hours"], id="31 days and an hour"),
        pytest.param("from=9999-12-30&to=9999-12-31T12:00:00Z", ["9999"], id="ceiled past the year 9999"),
    ],
)
def test_bad_series_queries_are_400_in_the_error_shape(client_all, series_data, query, needles):
    m1, _ = series_data
    for url in (f"/movies/{m1}/watch-time/", "/users/alice/watch-time/", "/stats/watch-time/"):
        assert_error(get(client_all, f"{url}?{query}", status=400), *needles)


# --- time zones (issue 23) ---------------------------------------------------------------------


def test_answers_are_in_utc_by_default_and_name_their_zone(client_all, series_data):
    m1, _ = series_data
    body = get(client_all, f"/movies/{m1}/watch-time/?from=2026-01-01&to=2026-01-02")
    assert (body["tz"], body["from"], body["results"][0]["start"]) == ("UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")


def test_default_zone_is_the_setting(client_all, series_data, settings):
    settings.WATCHTIME_TIME_ZONE = "Asia/Kathmandu"
    body = get(client_all, "/stats/watch-time/?from=2026-01-01&to=2026-01-02")
    assert (body["tz"], body["from"], body["to"]) == ("Asia/Kathmandu", "2026-01-01T00:00:00+05:45", "2026-01-02T00:00:00+05:45")


def test_a_quarter_to_zone_buckets_by_its_local_days_and_hours(client_all, series_data):
    """Kathmandu is +05:45: day 0 UTC 01:00-01:30 (alice's 25 s) is 06:45-07:15 local, on 1 January;
    bob's 02:00 on 3 January UTC is 07:45 local, on 3 January."""
    m1, _ = series_data
    body = get(client_all, "/stats/watch-time/?from=2026-01-01&to=2026-01-04&tz=Asia/Kathmandu")
    assert [(r["start"], r["watch_time"], r["viewers"]) for r in body["results"]] == [
        ("2026-01-01T00:00:00+05:45", 25, 1), ("2026-01-02T00:00:00+05:45", 0, 0), ("2026-01-03T00:00:00+05:45", 10, 1)]
    # Local hours: alice's m1 pairs at 01:00:10 and 01:00:20 UTC are 06:45:10 and 06:45:20 local (hour 06:00).
    hours = get(client_all, f"/movies/{m1}/watch-time/?interval=hour&tz=Asia/Kathmandu"
                            f"&from=2026-01-01T06:00:00%2B05:45&to=2026-01-01T08:00:00%2B05:45")
    assert [(r["start"], r["watch_time"]) for r in hours["results"]] == [
        ("2026-01-01T06:00:00+05:45", 20), ("2026-01-01T07:00:00+05:45", 0)]


def test_a_spring_forward_day_has_23_hours_and_starts_carry_their_offsets(client_all):
    """New York, 8 March 2026: 02:00 EST -> 03:00 EDT at 07:00 UTC. alice's heartbeats at 06:59:40,
    06:59:50 and 07:00:00 UTC: a pair of 10 s keyed 06:59:50 (01:59:50 EST) and one keyed 07:00:00
    (03:00:00 EDT)."""
    m = movie("dst")
    base = (datetime(2026, 3, 8, 6, 59, 40, tzinfo=UTC) - T0).total_seconds()
    watch(client_all, "alice", "dst", (0, base), (10, base + 10), (20, base + 20))
    days = get(client_all, f"/movies/{m}/watch-time/?from=2026-03-08&to=2026-03-10&tz=America/New_York")
    assert (days["from"], days["to"]) == ("2026-03-08T00:00:00-05:00", "2026-03-10T00:00:00-04:00")
    assert [(r["start"], r["watch_time"]) for r in days["results"]] == [
        ("2026-03-08T00:00:00-05:00", 20), ("2026-03-09T00:00:00-04:00", 0)]
    hours = get(client_all, f"/movies/{m}/watch-time/?interval=hour&from=2026-03-08&to=2026-03-09&tz=America/New_York")
    starts = [r["start"] for r in hours["results"]]
    assert len(starts) == 23 and "2026-03-08T02:00:00-05:00" not in starts
    assert [(r["start"], r["watch_time"], r["viewers"]) for r in hours["results"] if r["watch_time"]] == [
        ("2026-03-08T01:00:00-05:00", 10, 1), ("2026-03-08T03:00:00-04:00", 10, 1)]


def test_a_fall_back_day_has_the_repeated_hour_twice(client_all):
    body = get(client_all, "/stats/watch-time/?interval=hour&from=2026-11-01&to=2026-11-02&tz=America/New_York")
    starts = [r["start"] for r in body["results"]]
    assert len(starts) == 25 and starts[1:3] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]


def test_lord_howe_half_hour_change_gives_a_30_minute_bucket(client_all):
    body = get(client_all, "/stats/watch-time/?interval=hour&from=2026-10-04T01:00:00%2B10:30&to=2026-10-04T04:00:00%2B11:00"
                           "&tz=Australia/Lord_Howe")
    assert [r["start"] for r in body["results"]] == [
        "2026-10-04T01:00:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"]


def test_top_movies_and_engagement_take_the_zone(client_all, series_data):
    """In Kathmandu bob's view (02:00 UTC on 3 January) is on local 3 January; alice's on 1 January."""
    top = get(client_all, "/stats/top-movies/?from=2026-01-03&to=2026-01-04&tz=Asia/Kathmandu")
    assert (top["tz"], top["from"]) == ("Asia/Kathmandu", "2026-01-03T00:00:00+05:45")
    assert [(r["slug"], r["watch_time"], r["viewers"]) for r in top["results"]] == [("m1", 10, 1)]
    m1, _ = series_data
    engagement = get(client_all, f"/movies/{m1}/engagement/?from=2026-01-03&to=2026-01-04&tz=Asia/Kathmandu")
    assert (engagement["tz"], engagement["from"], engagement["to"]) == (
        "Asia/Kathmandu", "2026-01-03T00:00:00+05:45", "2026-01-04T00:00:00+05:45")
    assert (engagement["views"], engagement["watch_time"]) == (1, 10)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "asia/kathmandu", "+05:45", "/etc/localtime", "Asia/Kathmandu%20"])
def test_an_unknown_zone_is_400_naming_tz(client_all, series_data, tz):
    m1, _ = series_data
    for url in (f"/movies/{m1}/watch-time/", "/users/alice/watch-time/", "/stats/watch-time/", "/stats/top-movies/",
                f"/movies/{m1}/engagement/"):
        body = get(client_all, f"{url}?tz={tz}", status=400)
        assert_error(body, "tz")
        assert "tz" in body["error"]["details"]


@pytest.mark.parametrize(
    ("query", "limit"),
    [("from=2025-01-01&to=2026-01-03", "At most 366 days"), ("interval=hour&from=2026-01-01&to=2026-02-01T00:00:01Z", "At most 744 hours")],
)
def test_range_limits_are_named_in_the_message(client_all, query, limit):
    assert limit in get(client_all, f"/stats/watch-time/?{query}", status=400)["error"]["message"]


def test_a_late_event_moves_credit_and_viewers_between_hours(client_all):
    """alice: at 0 at 00:59:50, at 10 at 01:00:05 -> 10 s (played 10, wall 15 + 1) in hour 1. A late
    heartbeat at 10 at 00:59:55 makes that 6 s in hour 0 (played 10, wall 5 + 1) and a pause (0 s)
    in hour 1: hour 1 loses its only viewer, hour 0 gains one."""
    m1 = movie("m1")
    watch(client_all, "alice", "m1", (0, 3590), (10, 3605))
    span = f"interval=hour&from={iso(0)}&to={iso(7200)}"

    def hours():
        movie_rows = get(client_all, f"/movies/{m1}/watch-time/?{span}")["results"]
        user_rows = get(client_all, f"/users/alice/watch-time/?{span}")["results"]
        overall = get(client_all, f"/stats/watch-time/?{span}")["results"]
        return ([(r["watch_time"], r["viewers"]) for r in movie_rows], [(r["watch_time"], r["movies"]) for r in user_rows],
                [(r["watch_time"], r["viewers"], r["movies"]) for r in overall])

    assert hours() == ([(0, 0), (10, 1)], [(0, 0), (10, 1)], [(0, 0, 0), (10, 1, 1)])
    watch(client_all, "alice", "m1", (10, 3595))
    assert hours() == ([(6, 1), (0, 0)], [(6, 1), (0, 0)], [(6, 1, 1), (0, 0, 0)])
    verified()


# --- top movies ---------------------------------------------------------------------------------

TOP_KEYS = {"from", "to", "tz", "by", "results", "definitions", "as_of"}
TOP_ITEM_KEYS = {"id", "slug", "title", "watch_time", "viewers", "views", "completions"}


def test_top_movies_count_each_viewer_once_over_the_range(client_all):
    """alice watches m1 10 s on each of days 0, 1 and 2, bob 10 s on day 1: 40 s, 2 viewers (not
    the 4 a sum of daily viewers gives). carol watches m2 50 s on day 0: 1 viewer."""
    m1, m2 = movie("m1"), movie("m2")
    for day in range(3):
        watch(client_all, "alice", "m1", (0, day * DAY), (10, day * DAY + 10), session=str(day))
    watch(client_all, "bob", "m1", (0, DAY + 100), (10, DAY + 110))
    watch(client_all, "carol", "m2", (0, 0), (50, 50))
    span = "from=2026-01-01&to=2026-01-04"
    body = get(client_all, f"/stats/top-movies/?{span}")
    assert set(body) == TOP_KEYS and (body["from"], body["to"], body["by"]) == (iso(0), iso(3 * DAY), "watch_time")
    assert all(set(r) == TOP_ITEM_KEYS for r in body["results"])
    assert [(r["id"], r["slug"], r["title"], r["watch_time"], r["viewers"]) for r in body["results"]] == [
        (m2, "m2", "Title m2", 50, 1), (m1, "m1", "Title m1", 40, 2)]
    by_viewers = get(client_all, f"/stats/top-movies/?{span}&by=viewers")
    assert [(r["slug"], r["viewers"]) for r in by_viewers["results"]] == [("m1", 2), ("m2", 1)]
    # Day 1 alone: alice and bob once each; days 1-2: still two.
    assert [(r["slug"], r["viewers"]) for r in get(client_all, "/stats/top-movies/?from=2026-01-02&to=2026-01-04&by=viewers")["results"]] == [("m1", 2)]
    # From day 2: alice alone.
    assert [(r["slug"], r["watch_time"], r["viewers"]) for r in get(client_all, "/stats/top-movies/?from=2026-01-03&to=2026-01-04")["results"]] == [("m1", 10, 1)]
    assert [r["slug"] for r in get(client_all, f"/stats/top-movies/?{span}&limit=1")["results"]] == ["m2"]


def test_top_movies_ties_go_by_id(client_all):
    ids = [movie(f"t{i}") for i in range(3)]
    for i, user in ((2, "u2"), (0, "u0"), (1, "u1")):  # the same 10 s each, watched in another order
        watch(client_all, user, f"t{i}", (0, 0), (10, 10))
    for by in ("watch_time", "viewers", "views"):
        body = get(client_all, f"/stats/top-movies/?from=2026-01-01&to=2026-01-02&by={by}")
        assert [r["id"] for r in body["results"]] == sorted(ids), by


def test_top_movies_default_range_is_the_last_30_days(client_all):
    before = timezone.now()
    body = get(client_all, "/stats/top-movies/")
    end = datetime.fromisoformat(body["to"])
    assert end >= before and end - datetime.fromisoformat(body["from"]) == timedelta(days=30)
    assert (body["by"], body["results"]) == ("watch_time", [])


@pytest.mark.parametrize(
    ("query", "needles"),
    [
        pytest.param("by=title", ["by", "title"], id="bad by"),
        pytest.param("limit=0", ["limit", "1"], id="limit 0"),
        pytest.param("limit=101", ["limit", "100"], id="limit 101"),
        pytest.param("limit=ten", ["limit"], id="limit not a number"),
        pytest.param("min_view_seconds=-1", ["min_view_seconds", "0"], id="negative min_view_seconds"),
        pytest.param("completion_ratio=1.5", ["completion_ratio", "1"], id="completion_ratio over 1"),
        pytest.param("completion_ratio=-0.1", ["completion_ratio", "0"], id="negative completion_ratio"),
        pytest.param("from=2026-01-02&to=2026-01-01", ["before"], id="from after to"),
        pytest.param("from=2025-01-01&to=2026-01-03", ["366 days"], id="over 366 days"),
    ],
)
def test_bad_top_movies_queries_are_400(client_all, query, needles):
    assert_error(get(client_all, f"/stats/top-movies/?{query}", status=400), *needles)


@pytest.mark.parametrize("limit", [1, 100])
def test_top_movies_limits_at_the_bounds(client_all, limit):
    assert get(client_all, f"/stats/top-movies/?limit={limit}")["results"] == []


# --- views, engagement and per-request thresholds -------------------------------------------------


@pytest.fixture
def views_data(client_all):
    """m1, duration 100.
    alice: at 0-30 over 00:00:00-00:00:30 (view A: 3 pairs of 10 = 30 s, furthest 30), then after a
    break at 80 at 01:06:40 and 90 at 01:06:50 (view B: the crossing pair 30 -> 80, played 50, wall
    3971, -> 50, plus 10 = 60 s, furthest 90, complete: 90 >= 0.9 x 100).
    bob: at 0 and 5 at 00:01:40-00:01:45 (a view of 5 s: under the 10 s minimum)."""
    m1 = movie("m1", duration=100)
    watch(client_all, "alice", "m1", (0, 0), (10, 10), (20, 20), (30, 30), (80, 4000), (90, 4010))
    watch(client_all, "bob", "m1", (0, 100), (5, 105), session="tv")
    return m1


ENGAGEMENT_KEYS = {"from", "to", "tz", "views", "viewers", "watch_time", "average_view_seconds", "completions", "completion_rate",
                   "average_percent", "definitions", "as_of"}


def figures(body: dict) -> tuple:
    return (body["views"], body["viewers"], body["watch_time"], body["average_view_seconds"], body["completions"],
            body["completion_rate"], pytest.approx(body["average_percent"]))


@pytest.mark.parametrize(
    ("query", "expected", "applied"),
    [
        # A and B count: 2 views by 1 viewer, 90 s, 45 s each, B complete (1 of 2); percents 30 and 60.
        pytest.param("", (2, 1, 90, 45.0, 1, 0.5, 45.0), {}, id="configured thresholds"),
        # bob's 5 s view counts too: 3 views by 2 viewers, 95 s; percents 30, 60, 5.
        pytest.param("min_view_seconds=0", (3, 2, 95, 95 / 3, 1, 1 / 3, 95 / 3), {"min_view_seconds": 0},
                     id="min_view_seconds 0"),
        # Only B (60 s) reaches 40 s.
        pytest.param("min_view_seconds=40", (1, 1, 60, 60.0, 1, 1.0, 60.0), {"min_view_seconds": 40}, id="min_view_seconds 40"),
        # Exactly B's watch time counts; a second more does not.
        pytest.param("min_view_seconds=60", (1, 1, 60, 60.0, 1, 1.0, 60.0), {"min_view_seconds": 60}, id="at exactly 60"),
        pytest.param("min_view_seconds=61", (0, 0, 0, None, 0, None, None), {"min_view_seconds": 61}, id="none counts"),
        # A's furthest 30 is exactly 0.3 x 100: complete too.
        pytest.param("completion_ratio=0.3", (2, 1, 90, 45.0, 2, 1.0, 45.0), {"completion_ratio": 0.3}, id="ratio 0.3"),
        pytest.param("completion_ratio=1", (2, 1, 90, 45.0, 0, 0.0, 45.0), {"completion_ratio": 1.0}, id="ratio 1"),
        # Views that started from 01:00: B only.
        pytest.param(f"from={iso(3600)}", (1, 1, 60, 60.0, 1, 1.0, 60.0), {}, id="from"),
        # Views that started before 01:06:40 (B's start, excluded: [from, to)): A only.
        pytest.param(f"to={iso(4000)}", (1, 1, 30, 30.0, 0, 0.0, 30.0), {}, id="to excludes its moment"),
        pytest.param(f"from={iso(0)}&to={iso(4000.000001)}", (2, 1, 90, 45.0, 1, 0.5, 45.0), {}, id="from includes its moment"),
    ],
)
def test_engagement(client_all, views_data, query, expected, applied):
    body = get(client_all, f"/movies/{views_data}/engagement/?{query}")
    assert set(body) == ENGAGEMENT_KEYS
    assert figures(body) == expected
    assert body["definitions"] == {**DEFINITIONS, **applied}


def test_engagement_range_defaults_to_all_time(client_all, views_data):
    body = get(client_all, f"/movies/{views_data}/engagement/")
    assert (body["from"], body["to"]) == (None, None)
    body = get(client_all, f"/movies/{views_data}/engagement/?from=2026-01-01&to=2026-01-01T02:00:00%2B01:00")
    assert (body["from"], body["to"]) == (iso(0), iso(3600))


@pytest.mark.parametrize(
    ("query", "needles"),
    [
        pytest.param("min_view_seconds=-1", ["min_view_seconds", "0"], id="negative min_view_seconds"),
        pytest.param("completion_ratio=1.01", ["completion_ratio", "1"], id="completion_ratio over 1"),
        pytest.param("from=soon", ["from"], id="bad from"),
        pytest.param("to=2026-13-01", ["to"], id="bad to"),
        pytest.param("from=2026-01-02&to=2026-01-01", ["before"], id="from after to"),
        pytest.param("from=2026-01-01T00:00:00Z&to=2026-01-01", ["before"], id="from equal to to"),
    ],
)
def test_bad_engagement_queries_are_400(client_all, views_data, query, needles):
    assert_error(get(client_all, f"/movies/{views_data}/engagement/?{query}", status=400), *needles)


VIEW_KEYS = {"movie", "slug", "session", "started_at", "ended_at", "watch_time", "furthest_position", "completed"}


def test_user_views_are_the_counted_ones_newest_first(client_all, views_data):
    body = get(client_all, "/users/alice/views/")
    assert set(body) == PAGE_KEYS and body["definitions"] == DEFINITIONS
    assert all(set(v) == VIEW_KEYS for v in body["results"])
    assert body["results"] == [
        {"movie": views_data, "slug": "m1", "session": "", "started_at": iso(4000), "ended_at": iso(4010), "watch_time": 60,
         "furthest_position": 90, "completed": True},
        {"movie": views_data, "slug": "m1", "session": "", "started_at": iso(0), "ended_at": iso(30), "watch_time": 30,
         "furthest_position": 30, "completed": False},
    ]
    assert get(client_all, "/users/bob/views/")["results"] == []
    everything = get(client_all, "/users/bob/views/?min_view_seconds=0")
    assert [(v["session"], v["watch_time"], v["completed"]) for v in everything["results"]] == [("tv", 5, False)]
    assert everything["definitions"]["min_view_seconds"] == 0
    strict = get(client_all, "/users/alice/views/?min_view_seconds=31&completion_ratio=0.95")
    assert [(v["watch_time"], v["completed"]) for v in strict["results"]] == [(60, False)]
    assert strict["definitions"] == {**DEFINITIONS, "min_view_seconds": 31, "completion_ratio": 0.95}


def test_user_views_pages_follow_the_cursor(client_all, views_data):
    first = get(client_all, "/users/alice/views/?page_size=1")
    assert [v["started_at"] for v in first["results"]] == [iso(4000)] and first["previous"] is None
    second = get(client_all, first["next"])
    assert [v["started_at"] for v in second["results"]] == [iso(0)] and second["next"] is None


@pytest.mark.parametrize("query", ["min_view_seconds=-5", "completion_ratio=2", "min_view_seconds=x"])
def test_bad_views_queries_are_400(client_all, views_data, query):
    assert_error(get(client_all, f"/users/alice/views/?{query}", status=400), query.split("=")[0])


def test_top_movies_by_views_and_completions_restate_with_thresholds(client_all, views_data):
    """m1 as in views_data; m2 (duration 50): carol watches at 0-40 in 4 pairs of 10 (one view of
    40 s, furthest 40: complete at 0.8 x 50 = 40, not at 0.9)."""
    movie("m2", duration=50)
    watch(client_all, "carol", "m2", (0, 0), (10, 10), (20, 20), (30, 30), (40, 40))
    span = "from=2026-01-01&to=2026-01-02"

    def top(query):
        body = get(client_all, f"/stats/top-movies/?{span}&{query}")
        return [(r["slug"], r["views"], r["completions"]) for r in body["results"]], body["definitions"]

    # Configured: m1 has views A and B (B complete), m2 one (incomplete).
    assert top("by=views") == ([("m1", 2, 1), ("m2", 1, 0)], DEFINITIONS)
    assert top("by=completions") == ([("m1", 2, 1)], DEFINITIONS)
    # Views of at least 40 s: B and carol's.
    assert top("by=views&min_view_seconds=40") == ([("m1", 1, 1), ("m2", 1, 0)], {**DEFINITIONS, "min_view_seconds": 40})
    # Complete at 0.8: B (90 >= 80) and carol's (40 >= 40): a tie of one completion each, by id.
    assert top("by=completions&completion_ratio=0.8") == ([("m1", 2, 1), ("m2", 1, 1)], {**DEFINITIONS, "completion_ratio": 0.8})
    # Every view counts, complete at 0.3: m1's A, B and bob's 5 s view (furthest 5: not complete).
    assert top("by=completions&min_view_seconds=0&completion_ratio=0.3") == (
        [("m1", 3, 2), ("m2", 1, 1)], {**DEFINITIONS, "min_view_seconds": 0, "completion_ratio": 0.3})


def test_a_late_event_merges_two_views(client_all, views_data):
    """Late heartbeats at 40 (00:25:00) and 60 (00:50:00) close alice's break (gaps of 1470, 1500
    and 1000 s): one view of 30 + 10 + 20 + 20 + 10 = 90 s, furthest 90, complete."""
    watch(client_all, "alice", "m1", (60, 3000), (40, 1500))
    views = get(client_all, "/users/alice/views/")["results"]
    assert [(v["started_at"], v["ended_at"], v["watch_time"], v["furthest_position"], v["completed"]) for v in views] == [
        (iso(0), iso(4010), 90, 90, True)]
    assert figures(get(client_all, f"/movies/{views_data}/engagement/")) == (1, 1, 90, 90.0, 1, 1.0, 90.0)
    top = get(client_all, "/stats/top-movies/?from=2026-01-01&to=2026-01-02&by=views")["results"]
    assert [(r["views"], r["completions"]) for r in top] == [(1, 1)]
    verified()


def test_a_late_event_moves_a_views_start_across_midnight(client_all):
    """bob at 10 and 20 at 00:00:10-00:00:20 on day 1 (10 s: a counted view that started on day 1);
    a late heartbeat at 0 at 23:59:55 the day before moves its start to day 0 (10 + 10 = 20 s)."""
    m1 = movie("m1")
    watch(client_all, "bob", "m1", (10, DAY + 10), (20, DAY + 20))
    span = "from=2026-01-01&to=2026-01-03&by=views"
    assert figures(get(client_all, f"/movies/{m1}/engagement/?from=2026-01-02"))[:3] == (1, 1, 10)
    watch(client_all, "bob", "m1", (0, DAY - 5))
    assert figures(get(client_all, f"/movies/{m1}/engagement/?from=2026-01-02"))[:3] == (0, 0, 0)
    assert figures(get(client_all, f"/movies/{m1}/engagement/?to=2026-01-02"))[:3] == (1, 1, 20)
    assert [r["views"] for r in get(client_all, f"/stats/top-movies/?{span}")["results"]] == [1]
    assert [r["views"] for r in get(client_all, "/stats/top-movies/?from=2026-01-02&to=2026-01-03&by=views")["results"]] == []
    verified()


def test_a_duration_change_restates_completions(client_all, make_client):
    """m2 has no duration: completion figures are null. alice watches at 0-30 (one view of 30 s,
    furthest 30). With duration 30 the view is complete (30 >= 27) and 100 % watched; with 1000
    it is not (30 < 900) and 3 % watched."""
    m2 = movie("m2")
    watch(client_all, "alice", "m2", (0, 0), (10, 10), (20, 20), (30, 30))
    admin = make_client("admin")

    def state():
        engagement = get(client_all, f"/movies/{m2}/engagement/")
        (view,) = get(client_all, "/users/alice/views/")["results"]
        (item,) = get(client_all, "/users/alice/progress/?state=all")["results"]
        top = get(client_all, "/stats/top-movies/?from=2026-01-01&to=2026-01-02&by=completions")["results"]
        return (engagement["completions"], engagement["completion_rate"], engagement["average_percent"], view["completed"],
                item["percent"], item["state"], [r["completions"] for r in top])

    assert state() == (None, None, None, None, None, "in_progress", [])
    assert admin.patch(f"/movies/{m2}/", data={"duration": 30}, format="json").status_code == 200
    assert state() == (1, 1.0, 100.0, True, 100.0, "completed", [1])
    verified()
    assert admin.patch(f"/movies/{m2}/", data={"duration": 1000}, format="json").status_code == 200
    assert state() == (0, 0.0, 3.0, False, 3.0, "in_progress", [])
    verified()
    assert admin.patch(f"/movies/{m2}/", data={"duration": None}, format="json").status_code == 200
    assert state() == (None, None, None, None, None, "in_progress", [])
    verified()


# --- progress ----------------------------------------------------------------------------------

PROGRESS_KEYS = {"movie", "slug", "title", "position", "duration", "percent", "state", "total_watch_time", "last_watched_at"}


@pytest.fixture
def progress_data(client_all):
    """alice: m1 (duration 100) at 0 then 90 (exactly 90 %: completed; 90 played, wall 10 + 1 -> 11 s)
    at 00:00:00-00:00:10; m2 (no duration) at 0 then 50 at 00:10:00-00:10:10 (in progress, 11 s);
    m3 (duration 200) a single heartbeat at 0 at 00:20:00 (not started, 0 s); m4 (duration 100) at
    89, 10 s after a heartbeat at 80, at 00:30:00 (89 %: in progress, 9 s)."""
    ids = {slug: movie(slug, duration) for slug, duration in (("m1", 100), ("m2", None), ("m3", 200), ("m4", 100))}
    watch(client_all, "alice", "m1", (0, 0), (90, 10))
    watch(client_all, "alice", "m2", (0, 600), (50, 610))
    watch(client_all, "alice", "m3", (0, 1200))
    watch(client_all, "alice", "m4", (80, 1790), (89, 1800))
    return ids


def progress(client, query: str = "") -> list[tuple]:
    body = get(client, f"/users/alice/progress/?{query}")
    assert set(body) == PAGE_KEYS and all(set(item) == PROGRESS_KEYS for item in body["results"])
    return [(p["slug"], p["position"], p["duration"], p["percent"], p["state"], p["total_watch_time"], p["last_watched_at"])
            for p in body["results"]]


def test_progress_by_state_newest_first(client_all, progress_data):
    m4 = ("m4", 89, 100, 89.0, "in_progress", 9, iso(1800))
    m3 = ("m3", 0, 200, 0.0, "not_started", 0, iso(1200))
    m2 = ("m2", 50, None, None, "in_progress", 11, iso(610))
    m1 = ("m1", 90, 100, 90.0, "completed", 11, iso(10))
    assert progress(client_all) == [m4, m2]
    assert progress(client_all, "state=in_progress") == [m4, m2]
    assert progress(client_all, "state=completed") == [m1]
    assert progress(client_all, "state=all") == [m4, m3, m2, m1]
    body = get(client_all, "/users/alice/progress/?state=all")
    assert body["results"][0]["movie"] == progress_data["m4"] and body["results"][0]["title"] == "Title m4"
    assert body["definitions"] == DEFINITIONS


def test_progress_follows_the_newest_event_by_key_not_arrival(client_all, progress_data):
    watch(client_all, "alice", "m2", (20, 605))  # late: between 0 and 50
    assert progress(client_all)[1][:2] == ("m2", 50)
    watch(client_all, "alice", "m2", (70, 3600))
    assert progress(client_all)[0][:2] == ("m2", 70)


def test_progress_pages_follow_the_cursor(client_all, progress_data):
    first = get(client_all, "/users/alice/progress/?state=all&page_size=3")
    second = get(client_all, first["next"])
    assert [p["slug"] for p in first["results"]] + [p["slug"] for p in second["results"]] == ["m4", "m3", "m2", "m1"]
    assert second["next"] is None


def test_completed_percent_setting_moves_the_boundary(client_all, progress_data, settings):
    settings.WATCHTIME_COMPLETED_PERCENT = 89
    assert [p[0] for p in progress(client_all, "state=completed")] == ["m4", "m1"]
    assert get(client_all, "/users/alice/progress/")["definitions"]["completed_percent"] == 89


@pytest.mark.parametrize("query", ["state=done", "state=not_started", "state=ALL"])
def test_bad_progress_state_is_400(client_all, progress_data, query):
    assert_error(get(client_all, f"/users/alice/progress/?{query}", status=400), "state")


def totals(client, movie_id: int) -> tuple:
    return (get(client, "/users/alice/total-watch-time/")["total_watch_time"],
            get(client, f"/movies/{movie_id}/total-watch-time/")["total_watch_time"],
            get(client, f"/users/alice/movies/{movie_id}/total-watch-time/"))


@pytest.mark.parametrize("scopes", [("ingest",), ("admin",)])
def test_hiding_progress_until_a_newer_heartbeat(client_all, make_client, progress_data, scopes):
    m2 = progress_data["m2"]
    before = totals(client_all, m2)
    response = make_client(*scopes).delete(f"/users/alice/progress/{m2}/")
    assert response.status_code == 204 and response.content == b""
    assert [p[0] for p in progress(client_all, "state=all")] == ["m4", "m3", "m1"]
    assert totals(client_all, m2) == before
    # A late heartbeat older than the newest (00:10:05 < 00:10:10) does not bring it back...
    watch(client_all, "alice", "m2", (30, 605))
    assert "m2" not in [p[0] for p in progress(client_all, "state=all")]
    # ...though it counts: 0 -> 30 (played 30, wall 5 + 1 -> 6) and 30 -> 50 (played 20, wall 6) = 12 s.
    assert totals(client_all, m2)[0] == before[0] + 1
    # A newer one does, at its new position.
    watch(client_all, "alice", "m2", (60, 2000))
    assert progress(client_all)[0][:2] == ("m2", 60)
    # Hiding is idempotent and again only until the next newer heartbeat.
    for _ in range(2):
        assert make_client(*scopes).delete(f"/users/alice/progress/{m2}/").status_code == 204
    assert "m2" not in [p[0] for p in progress(client_all, "state=all")]
    # Newer by key at the same wall clock (ties by position): it is back.
    watch(client_all, "alice", "m2", (70, 2000))
    assert progress(client_all)[0][:2] == ("m2", 70)
    verified()


def test_hiding_progress_needs_ingest_or_admin(make_client, progress_data):
    response = make_client("read").delete(f"/users/alice/progress/{progress_data['m1']}/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_hiding_progress_of_nothing_is_404(client_all, progress_data):
    bob_only = movie("m9")
    for url in (f"/users/alice/progress/{bob_only}/", f"/users/nobody/progress/{progress_data['m1']}/",
                "/users/alice/progress/999999/", f"/users/alice/progress/{2**63}/", f"/users/alice/progress/{2**63 - 1}/"):
        response = client_all.delete(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


# --- retention -----------------------------------------------------------------------------------

RETENTION_KEYS = {"resolution", "duration", "viewers", "bins", "definitions", "as_of"}


def curve(client, movie_id: int) -> tuple:
    body = get(client, f"/movies/{movie_id}/retention/")
    assert set(body) == RETENTION_KEYS and body["resolution"] == 10 and body["definitions"] == DEFINITIONS
    assert all(set(b) == {"start", "viewers", "retention"} for b in body["bins"])
    return body["duration"], body["viewers"], [(b["start"], b["viewers"], b["retention"]) for b in body["bins"]]


def test_retention_runs_to_the_duration(client_all):
    """m1, duration 60 (bins 0-50). alice plays 0-30: bins 0, 1, 2. bob plays 0-10, rewinds to 0 and
    plays to 10 again (bin 0 by two pairs: still one viewer), then seeks to 50 in 10 s (credited 11:
    [39, 50), bins 3 and 4; nothing of bins 1-2). carol only pauses: no credit, not a viewer."""
    m1 = movie("m1", duration=60)
    watch(client_all, "alice", "m1", (0, 0), (10, 10), (20, 20), (30, 30))
    watch(client_all, "bob", "m1", (0, 0), (10, 10), (0, 20), (10, 30), (50, 40))
    watch(client_all, "carol", "m1", (20, 0), (20, 10))
    assert curve(client_all, m1) == (60, 2, [(0, 2, 1.0), (10, 1, 0.5), (20, 1, 0.5), (30, 1, 0.5), (40, 1, 0.5), (50, 0, 0.0)])
    verified()


def test_retention_without_duration_runs_to_the_furthest_covered_bin(client_all):
    m2 = movie("m2")
    assert curve(client_all, m2) == (None, 0, [])
    watch(client_all, "alice", "m2", (0, 0), (10, 10), (25, 25))  # [0, 25): bins 0, 1, 2
    assert curve(client_all, m2) == (None, 1, [(0, 1, 1.0), (10, 1, 1.0), (20, 1, 1.0)])


def test_retention_of_a_movie_nobody_watched(client_all):
    m3 = movie("m3", duration=25)  # three bins, the last one partial
    assert curve(client_all, m3) == (25, 0, [(0, 0, None), (10, 0, None), (20, 0, None)])


def test_a_late_event_splits_a_pairs_coverage(client_all):
    """alice seeks 0 -> 100 in 10 s: credited 11, [89, 100), bins 8 and 9. A late heartbeat at 50
    after 5 s splits it: 0 -> 50 credits 6 ([44, 50): bin 4) and 50 -> 100 credits 6 ([94, 100):
    bin 9). Bin 8 is lost, bin 4 gained."""
    m1 = movie("m1", duration=120)
    watch(client_all, "alice", "m1", (0, 0), (100, 10))
    covered = lambda: [start for start, viewers, _ in curve(client_all, m1)[2] if viewers]  # noqa: E731
    assert covered() == [80, 90]
    watch(client_all, "alice", "m1", (50, 5))
    assert covered() == [40, 90]
    verified()


# --- as_of, 404s, scopes -----------------------------------------------------------------------


def test_as_of_is_the_newest_received_at(client_all):
    m1 = movie("m1")
    assert get(client_all, "/stats/watch-time/")["as_of"] is None
    watch(client_all, "alice", "m1", (0, 0), (10, 10))
    watch(client_all, "alice", "m1", (5, 5))  # received last, though oldest by key
    newest = Event.objects.order_by("-received_at").first().received_at
    expected = newest.isoformat().replace("+00:00", "Z")
    for url in (f"/movies/{m1}/watch-time/", "/users/alice/watch-time/", "/stats/watch-time/", "/stats/top-movies/",
                f"/movies/{m1}/engagement/", f"/movies/{m1}/retention/", "/users/alice/views/", "/users/alice/progress/"):
        assert get(client_all, url)["as_of"] == expected, url


READS = [
    "/movies/{m}/watch-time/", "/movies/{m}/engagement/", "/movies/{m}/retention/", "/users/{u}/watch-time/",
    "/users/{u}/progress/", "/users/{u}/views/", "/stats/watch-time/", "/stats/top-movies/",
]


@pytest.mark.parametrize("url", [u for u in READS if "{" in u])
def test_unknown_user_or_movie_is_404(client_all, url):
    watch(client_all, "alice", "m1", (0, 0))
    m1 = Movie.objects.get(slug="m1").pk
    missing = [url.format(m=999999, u="alice"), url.format(m=2**63, u="alice"), url.format(m=2**70, u="alice")] if "{m}" in url \
        else [url.format(u="nobody", m=m1)]
    for target in missing:
        body = get(client_all, target, status=404)
        assert set(body["error"]) == {"code", "message", "details"} and body["error"]["code"] == "not_found", target


@pytest.mark.parametrize("url", READS)
def test_reads_need_the_read_scope(make_client, url):
    watch(make_client("ingest"), "alice", "m1", (0, 0))
    target = url.format(m=Movie.objects.get(slug="m1").pk, u="alice")
    for scopes in (("ingest",), ("admin",), ("ingest", "admin")):
        response = make_client(*scopes).get(target)
        assert response.status_code == 403, (target, scopes)
        assert response.json()["error"]["code"] == "permission_denied"
    assert make_client("read").get(target).status_code == 200
    assert APIClient().get(target).status_code == 401


# --- OpenAPI -----------------------------------------------------------------------------------

OPERATIONS = {
    ("/movies/{movie_pk}/watch-time/", "get"): {"interval", "from", "to", "tz"},
    ("/users/{username}/watch-time/", "get"): {"interval", "from", "to", "tz"},
    ("/stats/watch-time/", "get"): {"interval", "from", "to", "tz"},
    ("/stats/top-movies/", "get"): {"from", "to", "tz", "by", "limit", "min_view_seconds", "completion_ratio"},
    ("/users/{username}/progress/", "get"): {"state", "cursor", "page_size"},
    ("/users/{username}/progress/{movie_pk}/", "delete"): set(),
    ("/movies/{movie_pk}/engagement/", "get"): {"from", "to", "tz", "min_view_seconds", "completion_ratio"},
    ("/users/{username}/views/", "get"): {"min_view_seconds", "completion_ratio", "cursor", "page_size"},
    ("/movies/{movie_pk}/retention/", "get"): set(),
}


def test_openapi_documents_every_analytics_operation(client_all):
    response = client_all.get("/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    error = {"$ref": "#/components/schemas/Error"}
    for (path, method), parameters in OPERATIONS.items():
        operation = schema["paths"][path][method]
        where = f"{method.upper()} {path}"
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert query == parameters, where
        path_parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert path_parameters == {name.strip("{}") for name in path.split("/") if name.startswith("{")}, where
        for status in ("400", "401", "403", "429", "503"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == error, (where, status)
        if "{" in path:
            assert operation["responses"]["404"]["content"]["application/json"]["schema"] == error, where
        success = "204" if method == "delete" else "200"
        assert success in operation["responses"], where
    enums = {p["name"]: p["schema"].get("enum") for p in schema["paths"]["/stats/top-movies/"]["get"]["parameters"]}
    assert set(enums["by"]) == {"watch_time", "viewers", "views", "completions"}
    states = {p["name"]: p["schema"].get("enum") for p in schema["paths"]["/users/{username}/progress/"]["get"]["parameters"]}
    assert set(states["state"]) == {"in_progress", "completed", "all"}
    intervals = {p["name"]: p["schema"].get("enum") for p in schema["paths"]["/stats/watch-time/"]["get"]["parameters"]}
    assert set(intervals["interval"]) == {"hour", "day"}
