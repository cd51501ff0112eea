"""Plain values the broker and its callers exchange (no pika here, so the domain can import them)."""

from dataclasses import dataclass


class BrokerUnavailable(Exception):
    """The broker did not durably take the message; the client may retry later."""


class TransientFailure(Exception):
    """Raised by a batch handler: the batch cannot be handled now (say, the database is down);
    keep it and retry later."""


@dataclass(frozen=True)
class Delivery:
    delivery_tag: int
    body: bytes
    redelivered: bool


@dataclass(frozen=True)
class Outcome:
    """What became of one delivered message: done (ack) or dead-lettered with a reason."""

    delivery_tag: int
    dead_letter_reason: str | None = None
