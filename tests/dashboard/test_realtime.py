"""The dashboard's time zones and real-time panels through the real Django stack: the time-zone picker passes
`tz` to the API (default WATCHTIME_TIME_ZONE) and the tables are the zone's answers; the live panel and the
concurrency panel (the last two hours by minute, daily peaks) show what the API answers."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qsl

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import heartbeat

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-dashboard-passphrase-42"


@pytest.fixture
def reader():
    get_user_model().objects.create_user("reader", password=PASSWORD)
    client = Client()
    assert client.login(username="reader", password=PASSWORD)
    return client


@pytest.fixture
def watching_now(client_all):
    """alice and bob watching heat now (their heartbeats just received), alice also yesterday evening."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = [heartbeat(user=user, slug="heat", at=at, session=session) | {"ts": _ts(start + timedelta(seconds=at))}
              for user, session, start in (("alice", "a", now - timedelta(seconds=60)), ("bob", "b", now - timedelta(seconds=60)),
                                           ("alice", "y", now - timedelta(days=1)))
              for at in range(0, 51, 10)]
    posted = client_all.post("/", events, format="json")
    assert posted.status_code == 202, posted.content
    return client_all.get("/movies/?slug=heat").json()["results"][0]["id"]


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _link_query(page: str, name: str) -> dict:
    href = re.search(rf'href="/dashboard/data/{name}/\?([^"]+)"', page).group(1)
    return dict(parse_qsl(unescape(href)))


def _values(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]* id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [re.findall(r'data-value="([^"]*)"', row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _api(client_all, path: str, query: dict) -> dict:
    query = {k: v for k, v in query.items() if k not in ("format", "movie", "user")}
    response = client_all.get(path, query)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_the_time_zone_picker_passes_tz_and_the_tables_are_that_zones(reader, client_all, watching_now):
    page = reader.get("/dashboard/?range=7d&tz=Asia/Kathmandu").content.decode()
    query = _link_query(page, "overall-series")
    assert query["tz"] == "Asia/Kathmandu"
    answer = _api(client_all, "/stats/watch-time/", query)
    assert answer["tz"] == "Asia/Kathmandu" and answer["results"][0]["start"].endswith("+05:45")
    assert _values(page, "series") == [[str(r["watch_time"]), str(r["viewers"]), str(r["movies"])]
                                       for r in answer["results"]]
    assert _link_query(page, "top-movies")["tz"] == "Asia/Kathmandu"


def test_the_picker_defaults_to_the_configured_zone(reader, settings):
    settings.WATCHTIME_TIME_ZONE = "Europe/Paris"
    page = reader.get("/dashboard/").content.decode()
    assert 'id="c-tz" name="tz" list="zones" value="Europe/Paris"' in page
    assert _link_query(page, "overall-series")["tz"] == "Europe/Paris"


def test_the_live_panel_is_the_apis_live_answer(reader, client_all, watching_now):
    page = reader.get("/dashboard/").content.decode()
    live = client_all.get("/stats/live/").json()
    assert live["viewers"] == 3  # yesterday's stream too: its heartbeats were received just now
    shown = re.search(r'data-field="viewers">([^<]+)<', page).group(1)
    assert shown == f"{live['viewers']:,}"
    assert re.search(r'data-live-url="/dashboard/data/overall-live/\?format=json"', page)
    refreshed = reader.get("/dashboard/data/overall-live/?format=json").json()
    assert (refreshed["viewers"], refreshed["movies"]) == (live["viewers"], live["movies"])
    movie_page = reader.get(f"/dashboard/movies/{watching_now}/").content.decode()
    assert re.search(r'data-field="viewers">3<', movie_page)


def test_the_concurrency_panel_is_the_apis_minutes_and_peaks(reader, client_all, watching_now):
    for url, path in (("/dashboard/", "/stats/concurrency/"), (f"/dashboard/movies/{watching_now}/",
                                                               f"/movies/{watching_now}/concurrency/")):
        page = reader.get(url).content.decode()
        name = "overall-concurrency" if url == "/dashboard/" else "movie-concurrency"
        minutes_query = _link_query(page, name)
        minutes = _api(client_all, path, minutes_query)
        assert minutes_query["interval"] == "minute" and len(minutes["results"]) == 120
        assert _values(page, "concurrency-minutes") == [[str(r["viewers"])] for r in minutes["results"]]
        assert max(r["viewers"] for r in minutes["results"]) == 2
        peaks_href = re.findall(rf'href="/dashboard/data/{name}/\?([^"]+)"', page)[1]
        peaks = _api(client_all, path, dict(parse_qsl(unescape(peaks_href))))
        assert _values(page, "concurrency-peaks") == [[str(r["peak"])] for r in peaks["results"]]
        assert max(r["peak"] for r in peaks["results"]) == 2
