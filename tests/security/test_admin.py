"""The Django admin on the running API: staff only, behind the same host rules."""

import re
import secrets

import pytest
import requests


@pytest.fixture(scope="module")
def accounts(server):
    """A staff account and a viewer account with a password (but not staff)."""
    staff_password, viewer_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    created = server.watchtime(
        "manage", "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.invalid",
        DJANGO_SUPERUSER_PASSWORD=staff_password,
    )
    assert created.returncode == 0, created.stderr
    viewer = (
        "from watchtime.events.models import CustomUser; "
        f"CustomUser.objects.create_user('viewer', password='{viewer_password}')"
    )
    created = server.watchtime("manage", "shell", "-c", viewer)
    assert created.returncode == 0, created.stderr
    return {"ops": staff_password, "viewer": viewer_password}


def log_in(server, username: str, password: str) -> requests.Response:
    """The browser's steps: fetch the form (CSRF cookie and token), post it back."""
    form = requests.get(f"{server.base_url}/admin/login/", timeout=10)
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    # The cookie is Secure (TLS ends at the ingress), so it is sent by hand over this plain HTTP.
    return requests.post(
        f"{server.base_url}/admin/login/?next=/admin/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Cookie": f"csrftoken={form.cookies['csrftoken']}"},
        allow_redirects=False,
        timeout=10,
    )


def test_admin_login_page_only_on_allowed_hosts(server):
    page = requests.get(f"{server.base_url}/admin/login/", timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost:80@evil.example"):
        refused = requests.get(f"{server.base_url}/admin/login/", headers={"Host": host}, timeout=10)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request", host


def test_an_api_key_does_not_open_the_admin(server):
    response = requests.get(
        f"{server.base_url}/admin/", headers={"Authorization": f"Bearer {server.api_key}"}, allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login/")


def test_non_staff_cannot_log_in(server, accounts):
    response = log_in(server, "viewer", accounts["viewer"])
    assert response.status_code == 200 and "sessionid" not in response.cookies
    assert "staff account" in response.text


def test_staff_logs_in_with_a_secure_http_only_session_cookie(server, accounts):
    assert log_in(server, "ops", "wrong-password").status_code == 200
    response = log_in(server, "ops", accounts["ops"])
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    (cookie,) = [c for c in response.cookies if c.name == "sessionid"]
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
    home = requests.get(
        f"{server.base_url}/admin/", headers={"Cookie": f"sessionid={cookie.value}"}, allow_redirects=False, timeout=10
    )
    assert home.status_code == 200 and "Site administration" in home.text
    assert home.headers["X-Frame-Options"] == "DENY"
