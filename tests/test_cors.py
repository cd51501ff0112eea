"""CORS (django-cors-headers, WATCHTIME_CORS_ALLOWED_ORIGINS): real preflights and requests over
HTTP against running APIs that allow the player pages' origin, and the defaults of a process
that allows none. (The browser suite makes the same requests from a real page.)"""

import os
import secrets
import subprocess

import pytest
import requests
from django.test import Client

from tests import support

pytestmark = pytest.mark.integration

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


@pytest.fixture(params=["embedded", "full"])
def api(request, embedded_api, full_stack):
    return embedded_api if request.param == "embedded" else full_stack.api


def test_preflight_from_an_allowed_origin(api, page_origin):
    response = requests.options(api.base_url + "/", headers={"Origin": page_origin, **PREFLIGHT}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == page_origin
    assert {"authorization", "content-type"} <= set(response.headers["Access-Control-Allow-Headers"].split(", "))
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers  # keys, never cookies
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "origin" in response.headers["Vary"].lower()


def test_preflight_from_another_origin_gets_no_grant(api):
    response = requests.options(api.base_url + "/", headers={"Origin": "https://elsewhere.example", **PREFLIGHT},
                                timeout=10)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_answers_readable_by_an_allowed_page_include_errors(api, page_origin):
    """A refusal the page cannot read would look like a network error, and be retried for ever."""
    headers = {"Origin": page_origin, "Content-Type": "application/json"}
    accepted = requests.post(api.base_url + "/", data='{"user": "cors", "slug": "cors", "at": 0}', timeout=10,
                             headers={**headers, "Authorization": f"Bearer {api.ingest_key}"})
    refused = requests.post(api.base_url + "/", data="{}", headers={**headers, "Authorization": "Bearer wt_no_such"},
                            timeout=10)
    too_large = requests.post(api.base_url + "/", data="[" + " " * (1024 * 1024) + "]", headers=headers, timeout=10)
    assert (accepted.status_code, refused.status_code, too_large.status_code) == (202, 401, 413)
    for response in (accepted, refused, too_large):
        assert response.headers["Access-Control-Allow-Origin"] == page_origin
        assert "retry-after" in response.headers["Access-Control-Expose-Headers"].lower()


@pytest.mark.parametrize("path", ["/admin/login/", "/dashboard/login/"])
def test_the_admin_and_dashboard_are_same_origin_only(api, page_origin, path):
    response = requests.get(api.base_url + path, headers={"Origin": page_origin}, timeout=10)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_sdk_file_is_for_every_origin(api):
    response = requests.get(api.base_url + "/sdk/watchtime-player.js", headers={"Origin": "https://any.example"},
                            timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_no_origin_is_allowed_by_default(settings):
    assert os.environ.get("WATCHTIME_CORS_ALLOWED_ORIGINS") is None
    assert settings.CORS_ALLOWED_ORIGINS == []
    response = Client().options("/", HTTP_ORIGIN="http://localhost:3000", **{
        f"HTTP_{name.upper().replace('-', '_')}": value for name, value in PREFLIGHT.items()})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("value", ["https://player.example/", "player.example", "https://player.example/embed"])
def test_a_value_that_is_not_an_origin_stops_the_process(tmp_path, value):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
           "WATCHTIME_LIVE_TOKEN_KEY": secrets.token_urlsafe(32), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "WATCHTIME_CORS_ALLOWED_ORIGINS": value}
    result = subprocess.run([support.WATCHTIME, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"WATCHTIME_CORS_ALLOWED_ORIGINS: {value!r} is not an origin" in result.stderr
