"""A read after the database dropped the API's connection (a restart, a failover) answers 200:
the request runs once more on a new connection, with no health check before every request."""

import pytest
import requests
from django.db import connection

from testkit.ports import free_port
from testkit.waiting import wait_until
from tests import support

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_read_on_a_dropped_connection_is_answered_from_a_new_one(tmp_path):
    env = support.service_env("unused", WATCHTIME_BOOTSTRAP_API_KEY="wt_reconnect_0123456789abcdefghij",
                              WATCHTIME_BOOTSTRAP_API_KEY_SCOPES="ingest,read", WEB_CONCURRENCY="1",
                              GUNICORN_THREADS="1", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    env.pop("RABBITMQ_URL")
    port = free_port()
    assert support.start("migrate", env).wait(timeout=120) == 0
    api = support.start("api", env, "--port", str(port))
    headers = {"Authorization": "Bearer wt_reconnect_0123456789abcdefghij"}
    url = f"http://127.0.0.1:{port}/stats/watch-time/"
    try:
        wait_until(lambda: _status(url, headers) == 200, timeout=60, message="the API answering")
        for _ in range(3):
            with connection.cursor() as cursor:  # what a database restart does to the API's connection
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                               " AND pid <> pg_backend_pid() AND application_name = '' AND backend_type = 'client backend'")
                assert cursor.rowcount >= 1
            assert _status(url, headers) == 200
    finally:
        support.stop(api)


def _status(url, headers) -> int:
    try:
        return requests.get(url, headers=headers, timeout=5).status_code
    except requests.ConnectionError:
        return 0
