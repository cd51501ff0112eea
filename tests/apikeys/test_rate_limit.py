"""The per-key rate limit holds across API processes: two gunicorns share one count."""

import os
import time

import pytest
import requests

from tests.security.server import create_database, drop_database, start_server, stop_server

LIMIT = 30
WINDOW = 3600  # an hour, so the run never straddles a window (see the wait below)


@pytest.fixture
def two_apis(tmp_path):
    name = f"watchtime_ratelimit_{os.getpid()}"
    create_database(name)
    started = []
    try:
        settings = {"WATCHTIME_RATE_LIMIT": f"{LIMIT}/h", "WEB_CONCURRENCY": "1"}
        started.append(start_server(tmp_path, name=name, **settings))
        started.append(start_server(tmp_path, name=name, api_key=started[0].api_key, migrate=False, **settings))
        yield started
    finally:
        for server in started:
            stop_server(server)
        drop_database(name)


def test_rate_limit_is_shared_by_two_gunicorn_processes(two_apis):
    first, second = two_apis
    other = first.watchtime("createkey", "--name", "other", "--scope", "read")
    assert other.returncode == 0, other.stderr
    seconds_left = WINDOW - time.time() % WINDOW
    if seconds_left < 30:
        time.sleep(seconds_left + 1)

    answers = []
    for i in range(2 * LIMIT):
        server = two_apis[i % 2]
        response = requests.get(
            f"{server.base_url}/movies/",
            headers={"Authorization": f"Bearer {first.api_key}", "Connection": "close"},
            timeout=10,
        )
        answers.append((server.port, response))

    statuses = [response.status_code for _, response in answers]
    # A count per process would let each process pass LIMIT requests: 2 * LIMIT in all.
    assert statuses == [200] * LIMIT + [429] * LIMIT
    assert {port for port, response in answers if response.status_code == 429} == {first.port, second.port}
    for _, response in answers[LIMIT:]:
        assert response.json()["error"]["code"] == "throttled"
        assert 1 <= int(response.headers["Retry-After"]) <= WINDOW
    for server in two_apis:  # the limit is per key
        response = requests.get(
            f"{server.base_url}/movies/", headers={"Authorization": f"Bearer {other.stdout.strip()}"}, timeout=10
        )
        assert response.status_code == 200
