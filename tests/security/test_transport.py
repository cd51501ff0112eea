"""TLS ends at the ingress: HSTS and secure cookies follow X-Forwarded-Proto."""

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
