"""The consumer's probes and metrics, observed from outside its process."""

import json
import re
from datetime import UTC, datetime

import psycopg2
import pytest
import requests
from django.db import connection

from testkit.waiting import wait_until
from tests.conftest import heartbeat
from tests.consumers import publish_raw
from watchtime.events import messages
from watchtime.events.models import Event
from watchtime.events.validation import parse_events

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def get(process, path):
    response = requests.get(f"http://127.0.0.1:{process.metrics_port}{path}", timeout=5)
    return response.status_code, response.text


def metric(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{labels} missing"
    return float(match.group(1))


def test_livez_fails_while_the_loop_is_wedged_and_recovers(queue, consumers):
    (process,) = consumers(1, WATCHTIME_CONSUMER_LIVENESS_SECONDS="2")
    assert get(process, "/livez")[0] == 200
    db = connection.settings_dict
    blocker = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
    try:
        with blocker.cursor() as cursor:
            # The next batch blocks on this lock inside the consume loop: a wedged consumer.
            cursor.execute("LOCK TABLE events_event IN ACCESS EXCLUSIVE MODE")
            events = parse_events(heartbeat(at=0, ts=0), now=datetime.now(UTC))
            publish_raw(queue, [messages.encode(events)])
            wait_until(lambda: get(process, "/livez")[0] == 503, timeout=15, message="livez failing")
            status, body = get(process, "/livez")
            assert json.loads(body)["status"] == "wedged"
    finally:
        blocker.rollback()
        blocker.close()
    wait_until(lambda: get(process, "/livez")[0] == 200, timeout=15, message="livez recovering")
    wait_until(lambda: Event.objects.count() == 1, timeout=15, message="event applied after the lock")


def test_metrics_after_a_batch(queue, consumers):
    events = parse_events([heartbeat(at=a, ts=a) for a in (0, 10, 20)], now=datetime.now(UTC))
    body = messages.encode(events)
    publish_raw(queue, [body, body, b"not json"])
    (process,) = consumers(1)
    wait_until(lambda: Event.objects.count() == 3, timeout=20, message="applied")

    def processed():
        text = get(process, "/metrics")[1]
        return text if metric(text, "watchtime_events_processed_total", '{outcome="dead_lettered"}') == 1 else None

    text = wait_until(processed, timeout=10, message="metrics updated")
    assert metric(text, "watchtime_events_processed_total", '{outcome="applied"}') == 3
    assert metric(text, "watchtime_events_processed_total", '{outcome="duplicate"}') == 3
    assert metric(text, "watchtime_event_lag_seconds_count") == 3
    assert metric(text, "watchtime_total_computation_seconds_count") >= 1
    assert metric(text, "watchtime_batch_size_sum") == 6
    assert metric(text, "watchtime_consumer_last_batch_timestamp_seconds") > 0
    assert metric(text, "watchtime_build_info", '{role="consumer",version="0.1.0"}') == 1
    status, body = get(process, "/readyz")
    assert status == 200 and json.loads(body)["checks"] == {"broker": "ok", "database": "ok"}
