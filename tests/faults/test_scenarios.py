"""Six faults against real processes under load; each scenario ends with the ledger check in
conftest.Scenario.finish (nothing lost, nothing double counted, totals exact, `watchtime verify`)."""

import json
import random
import signal
import time
import uuid
from datetime import UTC, datetime

import pika
import pytest

from testkit.waiting import wait_until
from tests.faults.load import EPOCH, Heartbeat
from tests.faults.stack import Service, kill

pytestmark = [pytest.mark.slow]

# The chart's consumer terminationGracePeriodSeconds.
CONSUMER_GRACE_SECONDS = 30


def queued(scenario) -> int:
    """Messages in the queue, ready or delivered and not yet acknowledged (held by consumers)."""
    return sum(scenario.rabbit.queue_messages(scenario.stack.queue))


def pause_until_backlog(s) -> None:
    """SIGSTOP the consumers until messages are queued, then SIGCONT them: they resume with a batch."""
    consumers = s.stack.running_consumers()
    for consumer in consumers:
        consumer.signal(signal.SIGSTOP)
    try:
        wait_until(lambda: queued(s) > 0, timeout=30, interval=0.02, message="messages queued when SIGTERM is sent")
    finally:
        for consumer in consumers:
            consumer.signal(signal.SIGCONT)


def consumer_in_transaction(s, database) -> Service | None:
    """A consumer whose database session is inside a transaction right now: applying a batch."""
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT client_port FROM pg_stat_activity WHERE datname = current_database()"
            " AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()"
        )
        ports = {port for (port,) in cursor.fetchall()}
    for consumer in s.stack.running_consumers():
        if consumer.local_tcp_ports() & ports:
            return consumer
    return None


def test_sigkill_consumers_mid_batch(scenario):
    """Consumers SIGKILLed repeatedly inside their batch transaction: redelivery, no loss, no double count."""
    s = scenario("1-sigkill", seed=1, consumers=3)
    rng = random.Random(1)
    load = s.start_load()
    load.wait_progress(0.2)
    database = s.postgres.connect(s.stack.database)
    database.autocommit = True
    try:
        for _ in range(5):
            victim = wait_until(lambda: consumer_in_transaction(s, database), timeout=60, interval=0.05,
                                message="a consumer applying a batch")
            kill(victim)
            s.stack.start_consumer(wait=False)
            time.sleep(rng.uniform(0.5, 1.5))
    finally:
        database.close()
    s.finish()
    print("5 consumers were SIGKILLed inside their batch transaction")


def test_sigterm_consumer_finishes_or_returns_its_batch(scenario):
    """SIGTERM: the consumer settles (or returns) its in-flight batch and exits 0 within its grace period."""
    s = scenario("2-sigterm", seed=2, consumers=2)
    load = s.start_load()
    load.wait_progress(0.3)
    stop_times = []
    for _ in range(3):
        # Stop the oldest consumer while messages are queued: it is working on a batch. On a quiet
        # machine the consumers keep up, so let a backlog build behind paused consumers first
        # (always for the first stop, at 30 % of the load; later ones only while load remains).
        if not stop_times or load.progress() < 1:
            pause_until_backlog(s)
        victim = s.stack.running_consumers()[0]
        started = time.monotonic()
        victim.signal(signal.SIGTERM)
        returncode = victim.wait(timeout=CONSUMER_GRACE_SECONDS)
        stop_times.append(time.monotonic() - started)
        assert returncode == 0, victim.log_text()[-3000:]
        assert "Traceback" not in victim.log_text()
        # Ready before it can be the next victim: on a loaded machine a consumer still starting has
        # no signal handler yet, and a SIGTERM then kills it (-15) before it consumed anything.
        s.stack.start_consumer()
        time.sleep(1)
    print(f"SIGTERM to exit: {', '.join(f'{t:.1f} s' for t in stop_times)}")
    s.finish()


def test_rabbitmq_restart_with_messages_queued_and_publishers_active(scenario):
    """The whole broker node restarts under load: the API and consumers reconnect by themselves."""
    s = scenario("3-broker-restart", seed=3, consumers=2)
    api_pid, consumer_pids = s.stack.api.pid, [c.pid for c in s.stack.consumers]
    # Consumers that keep up would leave nothing queued: they are paused until the node is back.
    paused = s.stack.running_consumers()
    for consumer in paused:
        consumer.signal(signal.SIGSTOP)
    load = s.start_load(threads=2)  # a longer load, so that publishers are still busy when the node goes
    load.wait_progress(0.05)
    sent_at_restart = load.progress()
    down = time.monotonic()
    # Every 202 so far is a confirmed message still queued (the consumers are paused).
    queued_at_restart = sum(1 for a in load.result.answers if a.status == 202 and a.started < down)
    assert queued_at_restart > 0, "messages queued when the broker goes down"
    assert sent_at_restart < 1, "publishers are active when the broker goes down"
    s.rabbit.shutdown()
    time.sleep(2)
    s.rabbit.start()
    for consumer in paused:
        consumer.signal(signal.SIGCONT)
    refused = [a for a in load.result.answers if a.started >= down and a.status == 503]
    # Publishers reconnect: 202s again for requests sent after the restart.
    back = time.monotonic()
    wait_until(lambda: any(a.status == 202 and a.started > back for a in load.result.answers) or load.progress() == 1,
               timeout=60, message="a 202 after the broker restart")
    row = s.finish()
    assert s.stack.api.pid == api_pid and s.stack.api.alive()
    assert [c.pid for c in s.stack.running_consumers()] == consumer_pids, "consumers must reconnect, not die"
    for consumer in s.stack.consumers:
        assert consumer.log_text().count('"message": "consuming"') >= 2, "consumed again after the restart"
    assert refused, "publishers were refused (503) while the broker was down"
    print(f"{queued_at_restart} messages were queued at the restart, {sent_at_restart:.0%} of the requests sent; "
          f"{row.rejected_503} answers were 503, {row.unknown} unknown")


def test_postgres_outage_consumers_stop_acking_back_off_and_resume(scenario):
    """PostgreSQL stops for several seconds: consumers ack nothing, report not ready, do not spin, and resume."""
    s = scenario("4-postgres-outage", seed=4, consumers=2)
    load = s.start_load()
    load.wait_progress(0.3)
    s.postgres.stop()
    outage_started = time.monotonic()
    cpu_before = {c.pid: c.cpu_seconds() for c in s.stack.consumers}
    queue_at_start = sum(s.rabbit.queue_messages(s.stack.queue))
    not_ready = set()
    while time.monotonic() - outage_started < 8:
        for consumer in s.stack.consumers:
            if consumer.probe("/readyz") == 503:
                not_ready.add(consumer.pid)
        time.sleep(0.5)
    queue_at_end = sum(s.rabbit.queue_messages(s.stack.queue))
    cpu_used = {c.pid: c.cpu_seconds() - cpu_before[c.pid] for c in s.stack.consumers}
    outage = time.monotonic() - outage_started
    # A consumer stopped while it waits out the outage returns its batch and exits 0.
    stopping = s.stack.consumers[0]
    stop_started = time.monotonic()
    stopping.signal(signal.SIGTERM)
    stop_code = stopping.wait(timeout=CONSUMER_GRACE_SECONDS)
    stop_seconds = time.monotonic() - stop_started
    s.postgres.start()

    assert not_ready == set(cpu_before), "every consumer reports not ready while the DB is down"
    # Acks come only after commits, and nothing can commit: the queue cannot shrink.
    assert queue_at_end >= queue_at_start, (queue_at_start, queue_at_end)
    for pid, seconds in cpu_used.items():
        assert seconds < 0.25 * outage, f"consumer {pid} used {seconds:.1f} s CPU in a {outage:.1f} s outage"
    assert stop_code == 0, stopping.log_text()[-3000:]
    s.stack.start_consumer(wait=False)
    for consumer in s.stack.running_consumers():
        s.stack.wait_consumer_ready(consumer, timeout=30)
    assert len(s.stack.running_consumers()) == 2
    s.finish()
    print(f"outage {outage:.1f} s: queue {queue_at_start} -> {queue_at_end} messages; consumer CPU "
          + ", ".join(f"{seconds:.2f} s" for seconds in cpu_used.values())
          + f"; SIGTERM during the outage to exit: {stop_seconds:.1f} s")


def test_broker_unreachable_answers_503_never_202(scenario):
    """The broker stops accepting connections while clients POST: 503 + Retry-After, never 202; then 202 again."""
    s = scenario("5-broker-unreachable", seed=5, consumers=2)
    s.rabbit.stop_app()
    down = time.monotonic()
    # The load starts into the outage, so it cannot finish before the broker is back, however fast
    # the machine (a 503 is re-sent until it gets a definitive answer).
    load = s.start_load()
    api_ready = set()
    while time.monotonic() - down < 5:
        api_ready.add(s.stack.api.probe("/readyz", port=s.stack.api_port))
        time.sleep(0.3)
    restarting = time.monotonic()
    s.rabbit.start_app()
    up = time.monotonic()
    wait_until(lambda: any(a.status == 202 and a.started > up for a in load.result.answers) or load.progress() == 1,
               timeout=60, message="a 202 once the broker is back")
    row = s.finish()

    during = [a for a in load.result.answers if a.started >= down and a.finished <= restarting and not a.impatient]
    assert during, "requests were sent while the broker was down"
    assert {a.status for a in during} == {503}, "only 503 while the broker is unreachable"
    assert all(a.retry_after and int(a.retry_after) > 0 for a in during)
    durations = sorted(a.finished - a.started for a in during)
    assert durations[len(durations) // 2] < 0.5, f"503s are answered at once, not after a wait: {durations}"
    assert 503 in api_ready, "the API reports not ready while the broker is unreachable"
    print(f"{len(during)} answers while the broker was down, all 503 with Retry-After (median "
          f"{durations[len(durations) // 2] * 1000:.0f} ms); {row.rejected_503} 503s in all")


def poison_bodies(template: dict, mixed_good: dict) -> list[tuple[str, bytes]]:
    """Messages no consumer can apply, each with what is wrong with it (the last one holds a good
    event, `mixed_good`, beside its bad one: only the bad one is dead-lettered)."""
    def message(**changes) -> bytes:
        return json.dumps({"v": 1, "events": [{**template, "event_id": str(uuid.uuid4()), **changes}]}).encode()

    return [
        ("invalid JSON", b'{"v": 1, "events": [{"user": '),
        ("not UTF-8", b"\xff\xfe\x00\x80"),
        ("JSON null", b"null"),
        ("an array, not a message", b"[]"),
        ("unknown version", json.dumps({"v": 2, "events": [template]}).encode()),
        ("no events", json.dumps({"v": 1, "events": []}).encode()),
        ("extra top-level field", json.dumps({"v": 1, "events": [template], "x": 1}).encode()),
        ("at is a string", message(at="ten")),
        ("at out of range", message(at=10**30)),
        ("user is a number", message(user=42)),
        ("unknown field with a nested value", message(extra={"nested": [1, 2]})),
        ("ts not a date", message(ts="yesterday")),
        ("event_id not a UUID", message(event_id="not-a-uuid")),
        ("received_at missing", message(received_at=None)),
        ("session with a lone surrogate", message(session="\ud800")),
        ("received_at at the end of the calendar", message(received_at="9999-12-31T23:59:59Z")),
        ("refused by the database", message(user="refused-by-db")),
        ("a good event and a bad one", json.dumps({"v": 1, "events": [
            mixed_good, {**template, "event_id": str(uuid.uuid4()), "slug": ""}]}).encode()),
    ]


REFUSE_USER_SQL = """
CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.username = 'refused-by-db' THEN RAISE EXCEPTION 'user % refused', NEW.username; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_user BEFORE INSERT ON events_customuser FOR EACH ROW EXECUTE FUNCTION refuse_user();
"""


def direct_heartbeats(count: int, seed: int) -> list[Heartbeat]:
    rng = random.Random(seed)
    start_us = int((datetime.now(UTC) - EPOCH).total_seconds() - 86400) * 1_000_000
    beats = []
    for stream in range(count // 5):
        position, clock = rng.randrange(0, 3000), start_us + rng.randrange(0, 3600) * 1_000_000
        for _ in range(5):
            position += 10
            clock += 10 * 1_000_000
            beats.append(Heartbeat(str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"direct{stream % 50}",
                                   f"m{stream % 7}", f"d{stream}", position, clock))
    return beats


def test_poison_messages_are_dead_lettered_and_the_rest_applied(scenario):
    """Poison published straight to the queue between good messages, under HTTP load."""
    s = scenario("6-poison", seed=6, consumers=2)
    received_at = datetime.now(UTC).isoformat()
    good = direct_heartbeats(1500, seed=6)
    template = {**good[0].as_json(), "received_at": received_at}
    # A message holds the events of many requests (group commit): its good events are applied.
    mixed = Heartbeat(str(uuid.uuid4()), good[0].user, good[0].slug, "mixed", good[0].at, good[0].ts_us)
    poison = poison_bodies(template, {**mixed.as_json(), "received_at": received_at}) * 4
    good_bodies = [
        json.dumps({"v": 1, "events": [{**hb.as_json(), "received_at": received_at} for hb in good[i : i + 5]]}).encode()
        for i in range(0, len(good), 5)
    ]
    rng = random.Random(6)
    bodies = [(None, body) for body in good_bodies] + poison
    rng.shuffle(bodies)

    # A database-side refusal of one user's rows (like a constraint added by an operator): the
    # consumer must isolate the message at fault within its batch and apply the others.
    database = s.postgres.connect(s.stack.database)
    try:
        with database, database.cursor() as cursor:
            cursor.execute(REFUSE_USER_SQL)
    finally:
        database.close()

    s.start_load()
    connection = s.rabbit.connect()
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # a publish that is not confirmed raises
        for _reason, body in bodies:
            channel.basic_publish("", s.stack.queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    finally:
        connection.close()
    s.finish(direct={hb.event_id: hb for hb in [*good, mixed]}, expect_dead_letters=len(poison))

    logged = s.stack.consumer_log("message dead-lettered") + s.stack.consumer_log("event dead-lettered")
    assert len(logged) == len(poison) and all(entry["reason"] for entry in logged)
    assert len(s.stack.consumer_log("event dead-lettered")) == 4  # the bad event beside a good one, 4 copies
    connection = s.rabbit.connect()
    try:
        channel = connection.channel()
        headers = []
        for _ in range(len(poison)):
            method, properties, _body = channel.basic_get(s.stack.dead_letter_queue, auto_ack=False)
            headers.append(properties.headers or {})
        # Rejected whole by the consumer (nack): RabbitMQ's x-death; an event dead-lettered alone: its reason.
        deaths = [h["x-death"][0] for h in headers if "x-death" in h]
        assert len(deaths) == len(poison) - 4
        assert all((d["reason"], d["queue"]) == ("rejected", s.stack.queue) for d in deaths)
        assert all("x-watchtime-dead-letter-reason" in h for h in headers if "x-death" not in h)
    finally:
        connection.close()  # the unacknowledged dead letters go back to their queue
