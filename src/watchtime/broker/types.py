"""Plain values the broker and its callers exchange (no pika here, so the domain can import them)."""

from dataclasses import dataclass


class BrokerUnavailable(Exception):
    """The message is not stored: it was not handed to the broker, or the broker refused it."""


class PublishUnconfirmed(BrokerUnavailable):
    """The message was handed to the broker but not confirmed: it may be stored (and applied) later."""


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
