"""`watchtime maintain` and `watchtime prune` as processes: idempotent, and safe while consumers
apply a backlog (the figures verify afterwards); on SQLite the prune deletes in batches."""

import random
import re
import subprocess
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
import requests

from testkit.waiting import wait_until
from tests import support
from tests.accounting import scenarios
from tests.consumers import publish_raw
from watchtime.events import messages, partitions

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run(env, *args):
    result = subprocess.run([support.WATCHTIME, *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_maintain_is_idempotent_and_prunes_beside_running_consumers(queue, consumers, scratch_database):
    # A database of its own: the prune drops the log's oldest partitions (the cutover one too),
    # which the flush after a transactional test does not bring back.
    rng = random.Random(11)
    env = support.service_env(queue, DATABASE_URL=scratch_database)
    run(env, "migrate")
    with closing(psycopg2.connect(scratch_database)) as conn:
        # Keys in the daily partitions, so that the prune drops some while the consumers insert.
        first = max(p.day for p in partitions.existing(conn) if p.day) - timedelta(days=13)
    t0 = datetime(first.year, first.month, first.day, 12, tzinfo=UTC)
    run(env, "manage", "shell", "-c",
        "from watchtime.events.models import Movie;"
        f"Movie.objects.bulk_create([Movie(slug=s, title=s, duration=d) for s, d in {scenarios.DURATIONS!r}.items()])")
    events = scenarios.viewing(rng, users=6, streams=30, t0=t0)
    first_run = run(env, "maintain")
    assert "created" in first_run
    # Concurrency minutes older than 7 days are folded from the first run on: the viewing, 13 days
    # old, lands in folded quarters, whose peaks the consumers restate while they apply it.
    assert "quarter hours older than 7 days folded into peaks" in first_run
    batches = scenarios.delivered(rng, events)
    publish_raw(queue, [messages.encode(b) for b in batches[: len(batches) // 2]])
    workers = consumers(2, DATABASE_URL=scratch_database)
    wait_until(lambda: _stored_events(scratch_database) > 0, timeout=60, message="the consumers at work")
    publish_raw(queue, [messages.encode(b) for b in batches[len(batches) // 2 :]])
    # While the consumers apply the rest: a prune of the first day, twice.
    out = run(env, "prune", "--before", (first + timedelta(days=1)).isoformat())
    assert "pruned before" in out
    run(env, "prune", "--before", (first + timedelta(days=1)).isoformat())
    sent = sum(len(b) for b in batches)
    wait_until(lambda: sum(_processed(w) for w in workers) == sent, timeout=120, interval=0.5,
                       message=f"all {sent} events processed")
    run(env, "maintain")
    again = run(env, "maintain")
    assert "0 created" in again and "unset, nothing pruned" in again
    assert re.search(r"concurrency: [01] quarter hours", again)  # 1 when a quarter hour ended in between
    run(env, "verify")


def _stored_events(url: str) -> int:
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_eventlog")
        return cursor.fetchone()[0]


def _processed(consumer) -> float:
    """Events the consumer committed, whatever their outcome (applied, duplicate, too old)."""
    text = requests.get(f"http://127.0.0.1:{consumer.metrics_port}/metrics", timeout=2).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("watchtime_events_processed_total{") and "dead_lettered" not in line)


def test_the_embedded_default_prunes_by_deleting_in_batches(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true", "WATCHTIME_VAR_DIR": str(tmp_path), "WATCHTIME_LOG_LEVEL": "WARNING"}
    run(env, "migrate")
    script = (
        "import uuid; from datetime import datetime, timedelta, UTC;"
        "from watchtime.accounting.apply import events_apply; from watchtime.events.validation import EventIn;"
        "t = datetime(2026, 2, 1, 23, 59, 30, tzinfo=UTC);"
        "events_apply(events=[EventIn(uuid.uuid4(), 'a', 'm', 10 * i, '', t + timedelta(seconds=10 * i), t) for i in range(7)])"
    )
    run(env, "manage", "shell", "-c", script)
    out = run(env, "prune", "--before", "2026-02-02")
    assert "3 events deleted, 0 partitions dropped" in out, out
    run(env, "verify")
    assert "all totals and analytics match" in run(env, "verify")
