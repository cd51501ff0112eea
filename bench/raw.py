"""This machine's raw limits, measured with the bare clients (no watchtime code on the path)."""

import time
import uuid
from contextlib import closing

import pika
from psycopg2.extras import execute_values

from bench import confirmed
from bench.stack import Stack, blocking_connection

PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json")


def _raw_queue(channel, name: str) -> None:
    # The same queue type the product uses (durable quorum), without its dead-lettering.
    channel.queue_delete(name)
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})


def publish_rate(stack: Stack, body: bytes, count: int, *, confirm_each: bool) -> float:
    """Persistent messages/s from one BlockingConnection; with confirms, each waited for in turn."""
    name = f"{stack.queue}.raw-publish"
    with closing(blocking_connection()) as conn:
        ch = conn.channel()
        _raw_queue(ch, name)
        if confirm_each:
            ch.confirm_delivery()
        started = time.perf_counter()
        for _ in range(count):
            ch.basic_publish("", name, body, PERSISTENT)
        if not confirm_each:
            conn.process_data_events(0)
            # Without confirms the rate is what the client pushed; one round trip flushes it.
            ch.queue_declare(name, passive=True)
        elapsed = time.perf_counter() - started
        ch.queue_delete(name)
    return count / elapsed


def consume_rate(stack: Stack, body: bytes, count: int, *, prefetch: int = 1000, ack_every: int = 500) -> float:
    """Messages/s consumed with a prefetch window and one multiple-ack per `ack_every`."""
    name = f"{stack.queue}.raw-consume"
    with closing(blocking_connection()) as conn:
        ch = conn.channel()
        _raw_queue(ch, name)
        # Filled with confirms: the broker holds every one before the clock starts.
        confirmed.publish(name, [body] * count)
        if (depth := ch.queue_declare(name, passive=True).method.message_count) != count:
            raise RuntimeError(f"raw consume: {depth} of {count} confirmed messages queued")
        ch.basic_qos(prefetch_count=prefetch)
        received = 0
        started = time.perf_counter()
        for method, _props, _body in ch.consume(name, inactivity_timeout=10):
            if method is None:
                raise RuntimeError(f"raw consume stalled at {received} of {count} messages (nothing for 10 s)")
            received += 1
            if received % ack_every == 0 or received == count:
                ch.basic_ack(method.delivery_tag, multiple=True)
            if received == count:
                break
        elapsed = time.perf_counter() - started
        ch.cancel()
        ch.queue_delete(name)
    return count / elapsed


def upsert_rate(stack: Stack, rows: int, *, per_statement: int = 500) -> float:
    """Rows/s of INSERT ... ON CONFLICT DO UPDATE, `per_statement` rows a statement, a commit each.

    The table has the event log's shape (uuid key, stream, position, timestamps) and one
    secondary index, and every fifth row (after the first 1000) conflicts with a row of an earlier statement.
    """
    with closing(stack.connect()) as conn:
        conn.autocommit = False
        cur = conn.cursor()
        cur.execute(
            "DROP TABLE IF EXISTS bench_raw_upsert; CREATE TABLE bench_raw_upsert ("
            " event_id uuid PRIMARY KEY, stream_id bigint NOT NULL, at integer NOT NULL,"
            " ts timestamptz, sort_us bigint NOT NULL);"
            "CREATE INDEX ON bench_raw_upsert (stream_id, sort_us, at, event_id)"
        )
        conn.commit()
        ids = [uuid.uuid4() for _ in range(rows)]
        data = [
            (str(ids[i - 1000] if i % 5 == 4 and i >= 1000 else ids[i]), i % 5000, (i // 5000) * 10, 1_767_225_600_000_000 + i)
            for i in range(rows)
        ]
        sql = (
            "INSERT INTO bench_raw_upsert (event_id, stream_id, at, ts, sort_us) VALUES %s"
            " ON CONFLICT (event_id) DO UPDATE SET at = EXCLUDED.at"
        )
        template = "(%s::uuid, %s, %s, now(), %s)"
        started = time.perf_counter()
        for start in range(0, rows, per_statement):
            execute_values(cur, sql, data[start : start + per_statement], template=template, page_size=per_statement)
            conn.commit()
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_raw_upsert")
        conn.commit()
    return rows / elapsed
