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
class DeadLetter:
    """A new message for the dead-letter queue: the part of a delivered message that can never be
    applied (say, one poison event among good ones), and why."""

    body: bytes
    reason: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class Outcome:
    """What became of one delivered message: done (ack), dead-lettered whole with a reason, or done
    once `dead_letters` (its bad parts, as new messages) are confirmed in the dead-letter queue."""

    delivery_tag: int
    dead_letter_reason: str | None = None
    dead_letters: tuple[DeadLetter, ...] = ()
