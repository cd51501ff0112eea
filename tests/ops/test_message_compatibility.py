"""The broker messages across a rolling upgrade to group commit, both ways: the previous release's
API published one message per request, this release's gathers concurrent requests into one message;
while both run, each release's consumers must apply the other's messages exactly.

The previous release's code comes from this repository's history (`git archive`) and runs from the
same virtualenv."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from testkit.ports import free_port
from testkit.rabbitmq import RABBITMQ_URL, delete_queues, queue_depth
from testkit.waiting import wait_until
from tests import support
from tests.security.server import create_database, drop_database, start_server, stop_server
from watchtime.rule.credit import Heartbeat, Limits, stream_total
from watchtime.timestamps import to_us

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The last release that published one message per request.
PREVIOUS_RELEASE = "b2fbdc8"
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def heartbeats(prefix: str, streams: int = 12, per_stream: int = 6) -> list[dict]:
    """In-order heartbeats with wall clocks, each stream its own user."""
    return [{"user": f"{prefix}{s}", "slug": f"m{s % 3}", "at": 10 * i, "session": "tab",
             "ts": (T0 + timedelta(seconds=10 * i)).isoformat().replace("+00:00", "Z"), "event_id": str(uuid.uuid4())}
            for i in range(per_stream) for s in range(streams)]


def expected_totals(events: list[dict]) -> dict[str, int]:
    """Each user's total by the rule (one stream per user)."""
    by_user: dict[str, list[Heartbeat]] = {}
    for e in events:
        ts_us = to_us(datetime.fromisoformat(e["ts"]))
        by_user.setdefault(e["user"], []).append(Heartbeat(uuid.UUID(e["event_id"]), e["at"], ts_us, ts_us))
    limits = Limits(max_credit_seconds=120, max_step_seconds=15)
    return {user: stream_total(beats, limits) for user, beats in by_user.items()}


def post_concurrently(base_url: str, key: str, events: list[dict]) -> None:
    """One request per event, 24 at a time: an API with group commit gathers them."""
    def post(event):
        response = requests.post(base_url + "/", json=event, timeout=30, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 202, response.text
    with ThreadPoolExecutor(24) as pool:
        list(pool.map(post, events))


def totals(base_url: str, key: str, users) -> dict[str, int]:
    out = {}
    for user in users:
        response = requests.get(f"{base_url}/users/{user}/total-watch-time/", timeout=30,
                                headers={"Authorization": f"Bearer {key}"})
        out[user] = response.json()["total_watch_time"] if response.status_code == 200 else None
    return out


@pytest.fixture
def stack(tmp_path):
    name = f"watchtime_compat_{uuid.uuid4().hex[:8]}"
    queue = f"watchtime-compat-{uuid.uuid4().hex[:8]}"
    create_database(name)
    previous = support.release_src(PREVIOUS_RELEASE, tmp_path / "previous")
    started = []

    def api(*, old: bool):
        env = {"RABBITMQ_URL": RABBITMQ_URL, "WATCHTIME_QUEUE": queue, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "24"}
        if old:
            env["PYTHONPATH"] = str(previous)
        server = start_server(tmp_path, name=name, migrate=not started, **env)
        started.append(server)
        return server

    def consumer(server, *, old: bool):
        env = {**server.env, "RABBITMQ_URL": RABBITMQ_URL, "WATCHTIME_QUEUE": queue,
               "WATCHTIME_METRICS_PORT": str(free_port())}
        if old:
            env["PYTHONPATH"] = str(previous)
        process = support.start("consumer", env)
        started.append(process)
        return process

    yield api, consumer, queue
    for item in started:
        if hasattr(item, "base_url"):
            stop_server(item)
        else:
            support.stop(item)
    delete_queues(queue)
    drop_database(name)


def test_the_previous_release_applies_this_release_s_gathered_messages(stack):
    api, consumer, queue = stack
    new = api(old=False)
    events = heartbeats("g")
    post_concurrently(new.base_url, new.api_key, events)
    messages_published = queue_depth(queue)
    assert messages_published < len(events), "concurrent requests were gathered into fewer messages"
    consumer(new, old=True)
    wait_until(lambda: queue_depth(queue) == 0, timeout=60, message="the previous release's consumer drained the queue")
    want = expected_totals(events)
    wait_until(lambda: totals(new.base_url, new.api_key, want) == want, timeout=30, message="exact totals")
    assert queue_depth(f"{queue}.dead-letter") == 0


def test_this_release_applies_the_previous_release_s_messages(stack):
    api, consumer, queue = stack
    old = api(old=True)
    events = heartbeats("o")
    post_concurrently(old.base_url, old.api_key, events)
    assert queue_depth(queue) == len(events), "the previous release published one message per request"
    consumer(old, old=False)
    wait_until(lambda: queue_depth(queue) == 0, timeout=60, message="this release's consumer drained the queue")
    want = expected_totals(events)
    wait_until(lambda: totals(old.base_url, old.api_key, want) == want, timeout=30, message="exact totals")
    assert queue_depth(f"{queue}.dead-letter") == 0
