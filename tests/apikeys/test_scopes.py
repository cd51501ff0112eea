"""Every operation against keys of each scope: 401 without a key, 403 without the scope."""

import json

import pytest
from rest_framework.test import APIClient

from tests.conftest import heartbeat
from watchtime.events.models import Movie

pytestmark = pytest.mark.django_db

# (method, path, scope it needs); {m} is a watched movie, {d} one that may be deleted.
OPERATIONS = [
    ("POST", "/", "ingest"),
    ("GET", "/", "read"),
    ("HEAD", "/", "read"),
    ("GET", "/users/alice/total-watch-time/", "read"),
    ("HEAD", "/users/alice/total-watch-time/", "read"),
    ("GET", "/movies/{m}/total-watch-time/", "read"),
    ("GET", "/alice/{m}/total-watch-time/", "read"),
    ("GET", "/users/alice/movies/{m}/total-watch-time/", "read"),
    ("GET", "/movies/", "read"),
    ("POST", "/movies/", "admin"),
    ("GET", "/movies/{m}/", "read"),
    ("HEAD", "/movies/{m}/", "read"),
    ("PATCH", "/movies/{m}/", "admin"),
    ("DELETE", "/movies/{d}/", "admin"),
    ("OPTIONS", "/", None),  # no scope, but still a key
    ("OPTIONS", "/movies/{m}/", None),
]
BODIES = {
    ("POST", "/"): heartbeat(at=40, ts=40),
    ("POST", "/movies/"): {"title": "New", "slug": "new-movie"},
    ("PATCH", "/movies/{m}/"): {"title": "Renamed"},
}


@pytest.mark.parametrize("scope", [None, "ingest", "read", "admin"])
@pytest.mark.parametrize(("method", "path", "needed"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_scope_matrix(make_client, scope, method, path, needed):
    owner = make_client("ingest", "read", "admin")
    assert owner.post("/", [heartbeat(at=a, ts=a) for a in (0, 10)], format="json").status_code == 202
    doomed = owner.post("/movies/", {"title": "Doomed", "slug": "doomed"}, format="json").json()["id"]
    movie = Movie.objects.get(slug="m1").pk
    client = APIClient() if scope is None else make_client(scope)

    response = client.generic(
        method, path.format(m=movie, d=doomed), data=_json(BODIES.get((method, path))), content_type="application/json"
    )

    if scope is None:
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    elif needed is not None and needed != scope:
        assert response.status_code == 403
        assert method == "HEAD" or response.json()["error"]["code"] == "permission_denied"  # HEAD has no body
    else:
        assert 200 <= response.status_code < 300, response.content


def _json(body) -> str:
    return "" if body is None else json.dumps(body)
