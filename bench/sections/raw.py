"""This machine's raw limits: RabbitMQ publish and consume, PostgreSQL upsert."""

from bench import raw, workload
from bench.core import Bench
from bench.results import figure


def run(b: Bench) -> None:
    s = b.sizes
    body = workload.message(workload.events(1, streams=1, first_step=0))
    setup = f"pika BlockingConnection, persistent {len(body)} B messages, durable quorum queue"
    for key, count, confirm in (("publish", s.raw_publish, False), ("publish_confirmed", s.raw_publish_confirmed, True)):
        samples = b.repeat(lambda: raw.publish_rate(b.stack, body, count, confirm_each=confirm))  # noqa: B023
        name = "raw: publish, no confirms" if not confirm else "raw: publish, waiting for each confirm"
        b.limits[key] = b.add(figure(name, samples, "msg/s", setup=f"{setup}; {count} messages")).value
    samples = b.repeat(lambda: raw.consume_rate(b.stack, body, s.raw_consume))
    b.limits["consume"] = b.add(
        figure("raw: consume, prefetch 1000, multiple-ack per 500", samples, "msg/s",
               setup=f"{setup}; {s.raw_consume} messages (queued with confirms)")
    ).value
    samples = b.repeat(lambda: raw.upsert_rate(b.stack, s.raw_upsert))
    b.limits["upsert"] = b.add(
        figure(
            "raw: PostgreSQL INSERT .. ON CONFLICT DO UPDATE, 500-row statements", samples, "rows/s",
            setup=f"psycopg2 execute_values, a commit per statement, uuid key + 1 index, {s.raw_upsert} rows",
        )
    ).value
