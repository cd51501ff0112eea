"""The machine's RabbitMQ as tests and bench runs use it: its URL, settings.RABBITMQ for a queue of
the run's own, the product's queue topology declared, queues deleted, a queue's depth."""

import os

import pika

RABBITMQ_URL = os.environ.get("WATCHTIME_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def broker_settings(queue: str, **overrides) -> dict:
    """settings.RABBITMQ for the machine's broker and a test-owned queue."""
    params = pika.URLParameters(RABBITMQ_URL)
    return {
        "host": params.host,
        "port": params.port,
        "virtual_host": params.virtual_host,
        "username": params.credentials.username,
        "password": params.credentials.password,
        "ssl": False,
        "queue": queue,
        "publish_timeout": 5,
        "prefetch": 1000,
        "batch_size": 500,
        **overrides,
    }


def declare_queues(channel, queue: str) -> None:
    """The product's topology, declared from a blocking channel (as the consumer would)."""
    from watchtime.broker import queue_arguments, queue_names

    _, dlx, dead_letter_queue = queue_names(queue)
    channel.exchange_declare(dlx, "fanout", durable=True)
    channel.queue_declare(dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dead_letter_queue, dlx)
    channel.queue_declare(queue, durable=True, arguments=queue_arguments(queue))


def delete_queues(queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = conn.channel()
        for name in (queue, f"{queue}.dead-letter"):
            channel.queue_delete(name)
        channel.exchange_delete(f"{queue}.dlx")
    finally:
        conn.close()


def queue_depth(queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()
