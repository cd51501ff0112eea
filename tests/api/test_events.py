"""The REST contract in the embedded mode (events applied inside the request, real PostgreSQL)."""

import json
import uuid

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import heartbeat
from tests.rule.test_credit import WORKED_EXAMPLES
from watchtime.events.models import CustomUser, Event, Movie, WatchTime

pytestmark = pytest.mark.django_db


def post(client, payload, **kwargs):
    return client.post("/", data=json.dumps(payload), content_type="application/json", **kwargs)


def totals(client, user="alice", movie_slug="m1"):
    movie = Movie.objects.get(slug=movie_slug)
    return (
        client.get(f"/users/{user}/total-watch-time/").json()["total_watch_time"],
        client.get(f"/movies/{movie.pk}/total-watch-time/").json()["total_watch_time"],
        client.get(f"/{user}/{movie.pk}/total-watch-time/").json()["total_watch_time"],
    )


@pytest.mark.parametrize(("spec", "expected"), [pytest.param(s, e, id=n) for n, s, e in WORKED_EXAMPLES])
def test_worked_examples_one_request_per_event(client_all, spec, expected):
    for item in spec:
        at, ts = item[0], item[1]
        extra = {"event_id": str(item[2])} if len(item) > 2 else {}
        assert post(client_all, heartbeat(at=at, ts=ts, **extra)).status_code == 202
    assert totals(client_all) == (expected, expected, expected)


def test_ingest_answers_ids_and_creates_user_and_movie(client_all):
    given = str(uuid.uuid4())
    response = post(client_all, [heartbeat(at=0, ts=0, event_id=given), heartbeat(at=10, ts=10)])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and body["event_ids"][0] == given and len(body["event_ids"]) == 2
    assert CustomUser.objects.filter(username="alice").exists() and Movie.objects.filter(slug="m1").exists()


def test_totals_sum_over_sessions_movies_and_users(client_all):
    post(client_all, [heartbeat(at=a, ts=a, session="s1") for a in (0, 10, 20)])
    post(client_all, [heartbeat(at=a, ts=a, session="s2") for a in (100, 110)])
    post(client_all, [heartbeat(slug="m2", at=a, ts=a) for a in (0, 5)])
    post(client_all, [heartbeat(user="bob", at=a, ts=a) for a in (0, 7)])
    m1 = Movie.objects.get(slug="m1").pk
    assert client_all.get("/users/alice/total-watch-time/").json() == {"username": "alice", "total_watch_time": 35}
    assert client_all.get(f"/movies/{m1}/total-watch-time/").json() == {
        "id": m1, "title": "m1", "slug": "m1", "total_watch_time": 37
    }
    pair = client_all.get(f"/users/alice/movies/{m1}/total-watch-time/").json()
    assert pair == {"username": "alice", "movie": m1, "slug": "m1", "total_watch_time": 30, "last_moment": 110}
    assert client_all.get(f"/alice/{m1}/total-watch-time/").json() == pair


def test_last_moment_follows_the_newest_event_by_key_not_arrival(client_all):
    post(client_all, heartbeat(at=50, ts=50))
    post(client_all, heartbeat(at=40, ts=40))  # late
    m1 = Movie.objects.get(slug="m1").pk
    assert client_all.get(f"/alice/{m1}/total-watch-time/").json()["last_moment"] == 50


def test_invalid_item_refuses_the_batch_and_changes_nothing(client_all):
    response = post(client_all, [heartbeat(at=0), heartbeat(at=-1)])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "1" in error["details"]["items"]
    assert Event.objects.count() == 0 and CustomUser.objects.filter(username="alice").count() == 0


def test_batch_limits(client_all):
    assert post(client_all, [heartbeat(at=i % 100, session=str(i)) for i in range(1000)]).status_code == 202
    assert post(client_all, [heartbeat(at=0)] * 1001).status_code == 400
    assert post(client_all, []).status_code == 400


def test_oversized_body_is_413(client_all):
    response = post(client_all, [heartbeat(at=0, session="x" * 60)] * 20000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"user": "a", "slug": "s", "at": 0', "application/json", 400),
        (b'{"user": "a", "user": "b", "slug": "s", "at": 0}', "application/json", 400),
        (b'{"user": "a", "slug": "s", "at": NaN}', "application/json", 400),
        (b'\xff\xfe{"user": 1}', "application/json", 400),
        (b"user=a&slug=s&at=0", "application/x-www-form-urlencoded", 415),
        (b"[" * 100000 + b"]" * 100000, "application/json", 400),
    ],
)
def test_malformed_bodies(client_all, body, content_type, status):
    response = client_all.generic("POST", "/", data=body, content_type=content_type)
    assert response.status_code == status
    assert "error" in response.json()
    assert Event.objects.count() == 0


def test_event_list_newest_first_with_filters_and_cursor(client_all):
    post(client_all, [heartbeat(at=i) for i in range(3)])
    post(client_all, heartbeat(user="bob", slug="m2", at=7, session="s"))
    body = client_all.get("/?page_size=2").json()
    assert [r["user"] for r in body["results"]] == ["bob", "alice"] and body["next"]
    rest = client_all.get(body["next"]).json()
    assert [r["at"] for r in rest["results"]] == [1, 0]
    (bob,) = client_all.get("/?user=bob").json()["results"]
    assert set(bob) == {"event_id", "user", "slug", "at", "session", "ts", "received_at"}
    assert [r["at"] for r in client_all.get("/?slug=m1").json()["results"]] == [2, 1, 0]


def test_unknown_things_are_404(client_all):
    post(client_all, heartbeat(at=0))
    m1 = Movie.objects.get(slug="m1").pk
    assert client_all.get("/users/nobody/total-watch-time/").status_code == 404
    assert client_all.get("/movies/999999/total-watch-time/").status_code == 404
    assert client_all.get(f"/nobody/{m1}/total-watch-time/").status_code == 404
    response = client_all.get("/alice/999999/total-watch-time/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_movie_metadata_crud(client_all):
    created = client_all.post("/movies/", {"title": "Heat", "slug": "heat", "duration": 10200}, format="json")
    assert created.status_code == 201
    movie = created.json()
    assert movie["total_watch_time"] == 0 and set(movie) == {"id", "title", "slug", "duration", "total_watch_time"}
    assert client_all.post("/movies/", {"title": "Again", "slug": "heat"}, format="json").status_code == 409
    assert client_all.post("/movies/", {"title": "Bad", "slug": "sp ace"}, format="json").status_code == 400
    patched = client_all.patch(f"/movies/{movie['id']}/", {"title": "Heat (1995)"}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "Heat (1995)"
    assert client_all.get("/movies/?slug=heat").json()["results"][0]["title"] == "Heat (1995)"
    assert client_all.get(f"/movies/{movie['id']}/").status_code == 200


def test_deleting_a_movie_removes_its_watch_time_from_users(client_all):
    post(client_all, [heartbeat(at=a, ts=a) for a in (0, 10)])
    post(client_all, [heartbeat(slug="m2", at=a, ts=a) for a in (0, 5)])
    m1 = Movie.objects.get(slug="m1").pk
    assert client_all.delete(f"/movies/{m1}/").status_code == 204
    assert client_all.get("/users/alice/total-watch-time/").json()["total_watch_time"] == 5
    assert not WatchTime.objects.filter(movie_id=m1).exists()
    assert client_all.delete(f"/movies/{m1}/").status_code == 404


def test_authentication_and_scopes(make_client):
    client = APIClient()
    assert post(client, heartbeat()).status_code == 401
    assert client.get("/users/alice/total-watch-time/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer wt_deadbeef_notarealkeynotarealkey")
    response = post(client, heartbeat())
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    reader, ingester = make_client("read"), make_client("ingest")
    assert post(reader, heartbeat()).status_code == 403
    assert post(ingester, heartbeat()).status_code == 202
    assert ingester.get("/users/alice/total-watch-time/").status_code == 403
    assert reader.get("/users/alice/total-watch-time/").status_code == 200
    assert reader.post("/movies/", {"title": "x", "slug": "x"}, format="json").status_code == 403


def test_health_schema_and_docs_need_no_key(client):
    assert client.get("/livez").status_code == 200
    # kubelet probes address the pod IP, which is not an allowed host
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert client.get("/schema/").status_code == 200
    assert client.get("/docs/").status_code == 200


@override_settings(WATCHTIME_RATE_LIMIT="3/m")
def test_rate_limit_per_key(make_client):
    limited, other = make_client("read"), make_client("read")
    statuses = [limited.get("/movies/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = limited.get("/movies/")
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    assert other.get("/movies/").status_code == 200


@override_settings(WATCHTIME_AUTH=False)
def test_auth_off_lets_everyone_in():
    client = APIClient()
    assert post(client, heartbeat()).status_code == 202
