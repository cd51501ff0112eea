"""API -> RabbitMQ -> consumer processes -> PostgreSQL, with the machine's real broker and database."""

import json
import random
import subprocess
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pika
import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from testkit.ports import free_port
from testkit.rabbitmq import RABBITMQ_URL, broker_settings, queue_depth
from testkit.waiting import wait_until
from tests import support
from tests.conftest import heartbeat
from tests.consumers import publish_raw
from watchtime import broker
from watchtime.events import messages
from watchtime.events.models import CustomUser, Event, Movie, WatchTime
from watchtime.events.validation import parse_events
from watchtime.rule.credit import Limits, stream_total

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def ingest_client(make_client) -> APIClient:
    return make_client("ingest", "read")


def test_api_publishes_and_consumer_applies(make_client, queue, consumers):
    client = ingest_client(make_client)
    for at in (0, 10, 20, 30):
        response = client.post("/", heartbeat(at=at, ts=at), format="json")
        assert response.status_code == 202
    consumers(1)
    wait_until(lambda: Event.objects.count() == 4, timeout=20, message="4 events applied")
    assert CustomUser.objects.get(username="alice").total_watch_time == 30
    movie = Movie.objects.get(slug="m1")
    assert movie.total_watch_time == 30
    assert client.get(f"/alice/{movie.pk}/total-watch-time/").json()["last_moment"] == 30


def test_broker_unreachable_is_503_with_retry_after_and_the_event_ids(make_client):
    closed = broker_settings("unused", port=free_port(), publish_timeout=1)
    given = str(uuid.uuid4())
    with override_settings(RABBITMQ=closed):
        try:
            response = ingest_client(make_client).post("/", [heartbeat(event_id=given), heartbeat(at=10)], format="json")
        finally:
            broker.close()
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "broker_unavailable", "The message broker is unavailable; nothing was accepted."
    )
    # The ids given and the ids assigned, so that the retry carries the same ones.
    event_ids = error["details"]["event_ids"]
    assert len(event_ids) == 2 and event_ids[0] == given and uuid.UUID(event_ids[1])
    assert Event.objects.count() == 0


def test_redelivered_message_counts_once(queue, consumers):
    events = parse_events([heartbeat(at=a, ts=a) for a in (0, 10, 20)], now=datetime.now(UTC))
    body = messages.encode(events)
    publish_raw(queue, [body, body])
    consumers(1)
    wait_until(lambda: queue_depth(queue) == 0 and Event.objects.count() == 3, timeout=20,
                       message="both copies consumed")
    assert CustomUser.objects.get(username="alice").total_watch_time == 20


def test_poison_messages_are_dead_lettered_and_good_ones_applied(queue, consumers):
    good = [parse_events(heartbeat(at=a, ts=a), now=datetime.now(UTC)) for a in (0, 10, 20)]
    bodies = [
        messages.encode(good[0]),
        b"{not json",
        messages.encode(good[1]),
        json.dumps({"v": 1, "events": [{"user": "a", "slug": "s", "at": "ten"}]}).encode(),
        b"\xff\xfe\x00",
        json.dumps({"v": 1, "events": [{**json.loads(messages.encode(good[2]))["events"][0], "extra": {"x": [1]}}]}).encode(),
        messages.encode(good[2]),
    ]
    publish_raw(queue, bodies)
    consumers(1)
    dead_letter_queue = f"{queue}.dead-letter"
    wait_until(lambda: queue_depth(dead_letter_queue) == 4, timeout=20, message="4 dead letters")
    wait_until(lambda: Event.objects.count() == 3, timeout=20, message="good events applied")
    assert CustomUser.objects.get(username="alice").total_watch_time == 20
    assert queue_depth(queue) == 0


REFUSE_USER_SQL = """
CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.username = 'refused-by-db' THEN RAISE EXCEPTION 'user % refused', NEW.username; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_user BEFORE INSERT ON events_customuser FOR EACH ROW EXECUTE FUNCTION refuse_user();
"""


def dead_letters(queue: str) -> list[tuple[dict, dict]]:
    """(body, headers) of every message in the queue's dead-letter queue."""
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel, out = conn.channel(), []
        while (got := channel.basic_get(f"{queue}.dead-letter", auto_ack=True))[0] is not None:
            out.append((json.loads(got[2]), got[1].headers or {}))
        return out
    finally:
        conn.close()


def test_a_bad_event_among_other_requests_events_is_dead_lettered_alone(queue, consumers):
    """Group commit puts many requests' events in one message: an event the decoder refuses and one
    the database refuses each go to the dead-letter queue as a message of their own, with the reason;
    the message's other events are applied and it is acked."""
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_USER_SQL)
    events = parse_events([heartbeat(at=a, ts=a) for a in (0, 10, 20)], now=datetime.now(UTC))
    refused = parse_events(heartbeat(user="refused-by-db", at=5, ts=5), now=datetime.now(UTC))
    good = json.loads(messages.encode(events))["events"]
    undecodable = {**good[0], "event_id": "not-a-uuid"}
    body = {"v": 1, "events": [good[0], undecodable, *json.loads(messages.encode(refused))["events"], good[1], good[2]]}
    publish_raw(queue, [json.dumps(body).encode()])
    consumers(1)
    wait_until(lambda: queue_depth(f"{queue}.dead-letter") == 2, timeout=30, message="2 dead letters")
    wait_until(lambda: queue_depth(queue) == 0, timeout=20, message="the message acked")
    assert Event.objects.count() == 3 and CustomUser.objects.get(username="alice").total_watch_time == 20
    letters = dead_letters(queue)
    assert sorted(len(b["events"]) for b, _ in letters) == [1, 1]
    assert {b["events"][0]["event_id"] for b, _ in letters} == {"not-a-uuid", str(refused[0].event_id)}
    reasons = {b["events"][0]["event_id"]: h["x-watchtime-dead-letter-reason"] for b, h in letters}
    assert "event_id" in reasons["not-a-uuid"]
    assert "refused-by-db refused" in reasons[str(refused[0].event_id)]


def test_three_consumers_on_shuffled_duplicated_load_give_exact_totals(queue, consumers):
    rng = random.Random(7)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    received = datetime.now(UTC)
    items = []
    for user in range(12):
        for movie in range(4):
            for session in ("", "s2"):
                position, clock = rng.randrange(0, 3000), 0
                for _ in range(rng.randrange(5, 40)):
                    step = rng.choice([10, 10, 10, 0, -30, 400])
                    position, clock = max(0, position + step), clock + 10
                    items.append({
                        "user": f"u{user}", "slug": f"m{movie}", "session": session, "at": min(position, 86400),
                        "ts": (base + timedelta(seconds=clock)).isoformat(), "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    })
    events = parse_events(items[:1000], now=received) + parse_events(items[1000:2000] or items[:1], now=received) \
        + (parse_events(items[2000:], now=received) if items[2000:] else [])
    rng.shuffle(events)
    singles = [messages.encode([e]) for e in events[: len(events) // 2]]
    batches = [messages.encode(events[i : i + 50]) for i in range(len(events) // 2, len(events), 50)]
    duplicates = [messages.encode([e]) for e in rng.sample(events, 300)]
    bodies = singles + batches + duplicates
    rng.shuffle(bodies)
    publish_raw(queue, bodies)
    consumers(3)
    distinct = {e.event_id: e for e in events}
    wait_until(lambda: Event.objects.count() == len(distinct), timeout=120, interval=0.5,
                       message=f"{len(distinct)} events applied")

    streams = defaultdict(list)
    for e in distinct.values():
        streams[(e.user, e.slug, e.session)].append(e.heartbeat())
    limits = Limits()
    pair_totals, user_totals, movie_totals = defaultdict(int), defaultdict(int), defaultdict(int)
    for (user, slug, _session), heartbeats in streams.items():
        total = stream_total(heartbeats, limits)
        pair_totals[(user, slug)] += total
        user_totals[user] += total
        movie_totals[slug] += total
    assert dict(CustomUser.objects.filter(username__startswith="u").values_list("username", "total_watch_time")) == user_totals
    assert dict(Movie.objects.values_list("slug", "total_watch_time")) == movie_totals
    stored_pairs = {(wt.user.username, wt.movie.slug): wt.total for wt in WatchTime.objects.select_related("user", "movie")}
    assert stored_pairs == pair_totals

    verify = subprocess.run([support.WATCHTIME, "verify"], env=support.service_env(queue), capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_sigterm_stops_the_consumer_cleanly(queue, consumers):
    (process,) = consumers(1)
    returncode, output = support.stop(process, timeout=15)
    assert returncode == 0, output
