"""TLS ends at the ingress: HSTS and secure cookies follow X-Forwarded-Proto; keys stay out of the log."""

import secrets

import requests


def test_hsts_only_on_requests_the_ingress_marks_as_https(server):
    url = f"{server.base_url}/schema/"
    behind_tls = requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = requests.get(url, timeout=10)
    assert "Strict-Transport-Security" not in plain.headers  # browsers ignore it over HTTP anyway
    for response in (behind_tls, plain):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_csrf_cookie_is_secure_even_over_plain_http(server):
    page = requests.get(f"{server.base_url}/admin/login/", timeout=10)
    (cookie,) = [c for c in page.cookies if c.name == "csrftoken"]
    assert cookie.secure


def test_keys_never_reach_the_log(server):
    wrong = server.api_key.rsplit("_", 1)[0] + "_thisisthewrongsecret0"
    marker = secrets.token_hex(8)
    for key in (server.api_key, wrong):
        requests.get(f"{server.base_url}/movies/?probe={marker}", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    log = server.log()
    assert marker in log  # the access log is written
    for key in (server.api_key, wrong):
        assert key.rsplit("_", 1)[1] not in log
