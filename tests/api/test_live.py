"""GET /stats/live/ and /movies/<id>/live/ (issue 24) through the real Django stack: shapes, what
counts as live, the read scope, and the embeddable counter's read-only token: its movie only, no
API key, 401 in the one error shape when bad or expired, readable by an allowed origin (CORS).

Heartbeats go in through the ingest API (the embedded mode applies them in the request, received
now); their `ts` are seconds after T0, so credit follows the wall clock they carry."""

import json
import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import heartbeat
from watchtime.apikeys import livetokens
from watchtime.events.models import Movie

pytestmark = pytest.mark.django_db
LIVE_KEYS = {"viewers", "window_seconds", "as_of"}


def ingest(client, *items) -> None:
    response = client.post("/", data=json.dumps(list(items)), content_type="application/json")
    assert response.status_code == 202, response.content


def play(client, user: str, slug: str, *positions, session: str = "") -> None:
    """Heartbeats at these positions, 10 s of wall clock apart."""
    ingest(client, *[heartbeat(user, slug, at=at, ts=10 * i, session=session) for i, at in enumerate(positions)])


def movie_id(slug: str) -> int:
    return Movie.objects.get(slug=slug).pk


@pytest.fixture
def watching(client_all):
    """m1: alice playing, bob in two tabs (two streams), carol paused; m2: dave playing; m3: erin's first heartbeat."""
    play(client_all, "alice", "m1", 0, 10, 20)
    play(client_all, "bob", "m1", 0, 10, session="tab1")
    play(client_all, "bob", "m1", 100, 110, session="tab2")
    play(client_all, "carol", "m1", 0, 10, 10)  # paused: its newest pair earns 0
    play(client_all, "dave", "m2", 0, 10)
    play(client_all, "erin", "m3", 0)
    return {slug: movie_id(slug) for slug in ("m1", "m2", "m3")}


def test_overall_counts_streams_and_ranks_movies(client_all, watching):
    body = client_all.get("/stats/live/").json()
    assert set(body) == LIVE_KEYS | {"movies"}
    assert (body["viewers"], body["window_seconds"]) == (4, 30)
    assert body["movies"] == [{"id": watching["m1"], "slug": "m1", "title": "m1", "viewers": 3},
                              {"id": watching["m2"], "slug": "m2", "title": "m2", "viewers": 1}]
    assert body["as_of"].endswith("Z")


def test_per_movie(client_all, watching):
    answers = {slug: client_all.get(f"/movies/{pk}/live/").json() for slug, pk in watching.items()}
    assert {slug: a["viewers"] for slug, a in answers.items()} == {"m1": 3, "m2": 1, "m3": 0}
    assert all(set(a) == LIVE_KEYS and a["window_seconds"] == 30 for a in answers.values())


@override_settings(WATCHTIME_LIVE_WINDOW_SECONDS=1)
def test_streams_leave_the_count_when_the_window_passes(client_all, watching):
    time.sleep(1.1)
    body = client_all.get("/stats/live/").json()
    assert (body["viewers"], body["window_seconds"], body["movies"]) == (0, 1, [])


def test_reads_need_the_read_scope_and_a_known_movie(make_client, client_all, watching):
    ingest_only = make_client("ingest")
    for url in ("/stats/live/", f"/movies/{watching['m1']}/live/"):
        response = ingest_only.get(url)
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
        response = APIClient().get(url)
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    assert client_all.get("/movies/999999/live/").json()["error"]["code"] == "not_found"


def token_for(movie: int, ttl: int = 60) -> str:
    return livetokens.sign(movie_id=movie, expires=int(time.time()) + ttl)


def test_a_token_reads_its_movie_without_an_api_key(watching):
    body = APIClient().get(f"/movies/{watching['m1']}/live/", {"token": token_for(watching["m1"])}).json()
    assert set(body) == LIVE_KEYS and body["viewers"] == 3


def test_a_token_reads_nothing_else(watching):
    token = token_for(watching["m1"])
    other = APIClient().get(f"/movies/{watching['m2']}/live/", {"token": token})
    assert other.status_code == 403 and other.json()["error"]["code"] == "permission_denied"
    for url in ("/stats/live/", f"/movies/{watching['m1']}/watch-time/", "/users/alice/progress/"):
        response = APIClient().get(url, {"token": token})
        assert response.status_code == 401, url  # the token is no API key anywhere else


@pytest.mark.parametrize("kind", ["expired", "tampered", "other key", "malformed", "empty"])
def test_a_bad_or_expired_token_is_401_in_the_error_shape(watching, kind):
    m1 = watching["m1"]
    token = {
        "expired": livetokens.sign(movie_id=m1, expires=int(time.time()) - 1),
        "tampered": token_for(m1).replace(f"wtl_{m1}_", f"wtl_{watching['m2']}_"),
        "other key": livetokens.sign(movie_id=m1, expires=int(time.time()) + 60, key="another-key"),
        "malformed": "wt_not_a_live_token",
        "empty": "",
    }[kind]
    response = APIClient().get(f"/movies/{m1}/live/", {"token": token})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "authentication_failed", "message": "Invalid or expired live token.",
                                         "details": {}}}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_does_not_widen_an_api_key(make_client, watching):
    """A bad token fails the request even with a good key: what was sent is refused, not ignored."""
    response = make_client("read").get(f"/movies/{watching['m1']}/live/", {"token": "wtl_1_1_x"})
    assert response.status_code == 401


@override_settings(CORS_ALLOWED_ORIGINS=["https://premiere.example"])
def test_an_allowed_origin_reads_the_counter_and_its_refusals(watching):
    m1 = watching["m1"]
    ok = APIClient().get(f"/movies/{m1}/live/", {"token": token_for(m1)}, HTTP_ORIGIN="https://premiere.example")
    bad = APIClient().get(f"/movies/{m1}/live/", {"token": "wtl_1_1_x"}, HTTP_ORIGIN="https://premiere.example")
    elsewhere = APIClient().get(f"/movies/{m1}/live/", {"token": token_for(m1)}, HTTP_ORIGIN="https://elsewhere.example")
    assert (ok.status_code, bad.status_code) == (200, 401)
    assert ok.headers["Access-Control-Allow-Origin"] == bad.headers["Access-Control-Allow-Origin"] == "https://premiere.example"
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
