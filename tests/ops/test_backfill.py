"""An installation of the previous release (no analytics) upgraded in place while its consumers
keep running: migrate, new consumers beside old ones, the old ones stopped (a rolling upgrade);
the backfill completes the analytics from the stored log and every figure verifies.

The previous release's code comes from this repository's history (`git archive`), and runs from
the same virtualenv (its dependencies are the same)."""

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import requests

from testkit.ports import free_port
from testkit.rabbitmq import delete_queues
from testkit.waiting import wait_until
from tests import support
from tests.consumers import publish_raw
from watchtime.events import messages
from watchtime.events.validation import EventIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The last release before the analytics (its schema: events migrations 0001-0003).
PREVIOUS_RELEASE = "81196e8"
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def previous_release_src(tmp_path: Path) -> Path:
    return support.release_src(PREVIOUS_RELEASE, tmp_path / "previous")


def events_for(phase: int, count: int) -> list[EventIn]:
    """In-order heartbeats of 40 streams, continuing the previous phases (some streams new)."""
    out = []
    for i in range(count):
        stream = (i + phase * 7) % 40
        step = phase * 1000 + i // 40
        moment = T0 + timedelta(seconds=10 * step + stream)
        out.append(EventIn(uuid.uuid4(), f"u{stream % 13}", f"m{stream % 5}", (10 * step) % 86400, f"s{stream}",
                           moment, moment))
    return out


def count_events(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event")
        return cursor.fetchone()[0]


def test_rolling_upgrade_with_the_previous_release_consumers_running(tmp_path, scratch_database):
    queue = f"watchtime-upgrade-{uuid.uuid4().hex[:8]}"
    env = {**support.service_env(queue), "DATABASE_URL": scratch_database}
    old_env = {**env, "PYTHONPATH": str(previous_release_src(tmp_path))}

    def run(environment, *args):
        result = subprocess.run([support.WATCHTIME, *args], env=environment, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def consumer(environment):
        environment = {**environment, "WATCHTIME_METRICS_PORT": str(free_port())}
        process = support.start("consumer", environment)
        process.metrics_port = int(environment["WATCHTIME_METRICS_PORT"])
        wait_until(lambda: _ready(process), timeout=60, message="consumer readiness")
        started.append(process)
        return process

    sent = 0
    started = []

    def publish(phase, count=400):
        nonlocal sent
        events = events_for(phase, count)
        publish_raw(queue, [messages.encode(events[i : i + 20]) for i in range(0, len(events), 20)])
        sent += len(events)

    try:
        run(old_env, "migrate")
        old = consumer(old_env)
        publish(0)
        wait_until(lambda: count_events(scratch_database) == sent, timeout=60, message="previous release applied phase 0")
        publish(1)  # still arriving while the new release migrates
        run(env, "migrate")
        publish(2)
        new = consumer(env)
        publish(3)  # old and new consumers share the queue
        wait_until(lambda: count_events(scratch_database) == sent, timeout=90, message="phases 1-3 applied")
        returncode, output = support.stop(old)
        assert returncode == 0, output
        publish(4)
        wait_until(lambda: count_events(scratch_database) == sent, timeout=60, message="phase 4 applied")
        # The new consumers' background backfill finishes without an operator's step...
        wait_until(lambda: _backfill_pending(new) == 0, timeout=90, interval=1, message="background backfill")
        # ... and the documented command finds nothing left.
        assert "backfilled 0 user-movies" in run(env, "backfill")
        run(env, "verify")
    finally:
        for process in started:  # whatever went wrong, the consumers' own words say why
            returncode, output = support.stop(process)
            print(f"consumer exited {returncode}:\n{output[-4000:]}")
        delete_queues(queue)
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM analytics_view")
        assert cursor.fetchone()[0] >= 40
        cursor.execute("SELECT sum(watch_time) FROM analytics_quarter")
        (quarterly,) = cursor.fetchone()
        cursor.execute("SELECT sum(total_watch_time) FROM events_movie")
        assert quarterly == cursor.fetchone()[0] > 0


def _ready(process) -> bool:
    assert process.poll() is None, process.stdout.read()
    try:
        return requests.get(f"http://127.0.0.1:{process.metrics_port}/readyz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _backfill_pending(process) -> float:
    text = requests.get(f"http://127.0.0.1:{process.metrics_port}/metrics", timeout=2).text
    for line in text.splitlines():
        if line.startswith("watchtime_analytics_backfill_pending "):
            return float(line.split()[1])
    return -1.0
