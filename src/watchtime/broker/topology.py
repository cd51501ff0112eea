"""The queues: a durable quorum queue whose rejected or over-redelivered messages go, at least
once, through `<queue>.dlx` to the dead-letter queue `<queue>.dead-letter`."""

import functools
from collections.abc import Callable

from pika.exchange_type import ExchangeType

from watchtime.broker.connection import config

# Redeliveries of one message (e.g. a consumer crash-looping on it) before it is dead-lettered.
DELIVERY_LIMIT = 20


def queue_names(queue: str | None = None) -> tuple[str, str, str]:
    """(queue, dead-letter exchange, dead-letter queue)."""
    queue = queue or config()["queue"]
    return queue, f"{queue}.dlx", f"{queue}.dead-letter"


def queue_arguments(queue: str) -> dict:
    _, dlx, _ = queue_names(queue)
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": dlx,
        # at-least-once dead-lettering needs reject-publish overflow; nothing is dropped.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def declare_topology(channel, on_done: Callable[[], None]) -> None:
    """Declare exchange, queues and binding on an async channel, then call `on_done`."""
    queue, dlx, dead_letter_queue = queue_names()
    steps = [
        lambda next_: channel.exchange_declare(dlx, ExchangeType.fanout, durable=True, callback=next_),
        lambda next_: channel.queue_declare(
            dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}, callback=next_
        ),
        lambda next_: channel.queue_bind(dead_letter_queue, dlx, callback=next_),
        lambda next_: channel.queue_declare(queue, durable=True, arguments=queue_arguments(queue), callback=next_),
    ]

    def run(index: int, _frame=None):
        if index == len(steps):
            on_done()
        else:
            steps[index](functools.partial(run, index + 1))

    run(0)
