"""Metrics served on their own port, summed over gunicorn workers."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

from testkit.ports import free_port
from testkit.waiting import wait_until
from tests import support
from tests.conftest import heartbeat
from watchtime.apikeys.services import apikey_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} not exported"
    return float(match.group(1))


def test_counts_from_every_worker_are_summed_on_the_metrics_port(tmp_path):
    _, key = apikey_create(name="metrics-test", scopes=["ingest", "read"])
    port, metrics_port = free_port(), free_port()
    multiproc = tmp_path / "prometheus"
    env = support.service_env(
        "unused", PORT=str(port), WATCHTIME_METRICS_PORT=str(metrics_port), WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2", PROMETHEUS_MULTIPROC_DIR=str(multiproc), WATCHTIME_LOG_LEVEL="INFO",
    )
    del env["RABBITMQ_URL"]  # embedded apply: the test is about counting, not the broker
    api = support.start("api", env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(f"{base}/readyz") == 200, timeout=30, message="api readiness")
        requests_sent = 60
        with ThreadPoolExecutor(8) as pool:  # fresh connections, so both workers take some
            statuses = list(pool.map(
                lambda i: requests.post(f"{base}/", json=heartbeat(user=f"u{i}", at=i),
                                        headers={"Authorization": f"Bearer {key}", "Connection": "close"}, timeout=30).status_code,
                range(requests_sent),
            ))
        assert statuses == [202] * requests_sent
        worker_pids = {int(p.stem.rsplit("_", 1)[1]) for p in Path(multiproc).glob("counter_*.db")}
        assert len(worker_pids) >= 2, "the requests did not spread over two workers"

        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert sample(text, "watchtime_events_ingested_total") == requests_sent
        assert sample(text, "watchtime_build_info", '{role="api",version="0.1.0"}') == 1
        assert 'view="events"' in text  # django-prometheus per-view metrics
        assert requests.get(f"{base}/metrics", timeout=5).status_code in (401, 404)  # not on the API port
    finally:
        _, output = support.stop(api)
    log_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert log_lines and all({"time", "level", "logger", "message"} <= set(line) for line in log_lines)


def test_live_viewers_is_computed_at_scrape_by_the_master_without_keeping_connections(tmp_path):
    """watchtime_live_viewers: one figure of the database whichever worker applied the heartbeats,
    computed by gunicorn's master when scraped; every scrape's connection is closed after it."""
    _, key = apikey_create(name="live-metrics-test", scopes=["ingest", "read"])
    port, metrics_port = free_port(), free_port()
    env = support.service_env(
        "unused", PORT=str(port), WATCHTIME_METRICS_PORT=str(metrics_port), WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    del env["RABBITMQ_URL"]  # embedded apply
    api = support.start("api", env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
    try:
        wait_until(lambda: _status(f"{base}/readyz") == 200, timeout=30, message="api readiness")
        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert sample(text, "watchtime_live_viewers") == 0
        # Three streams playing (10 s of wall clock and of position), one paused (position repeated).
        for user, second_at in (("a", 10), ("b", 10), ("c", 10), ("paused", 0)):
            body = [heartbeat(user=user, at=0, ts=0), heartbeat(user=user, at=second_at, ts=10)]
            assert requests.post(f"{base}/", json=body, headers=headers, timeout=30).status_code == 202

        def connections() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                return cursor.fetchone()[0]

        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert sample(text, "watchtime_live_viewers") == 3
        assert "watchtime_live_viewers{" not in text  # overall only: no labels
        before = connections()
        for _ in range(5):
            requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        # A closed connection's backend leaves pg_stat_activity a moment after the client hangs up.
        wait_until(lambda: connections() <= before, timeout=10, message="the scrapes' connections closed")
    finally:
        support.stop(api)


def _status(url: str) -> int | None:
    try:
        return requests.get(url, timeout=1).status_code
    except requests.ConnectionError:
        return None
