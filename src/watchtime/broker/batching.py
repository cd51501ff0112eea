"""The consumer's bookkeeping as plain functions: how much of the held deliveries to hand the
handler at once, and how to settle a handled slice with the broker."""

from dataclasses import dataclass

from watchtime.broker.types import DeadLetter, Delivery, Outcome

# A consumer transaction holds at most this many message bytes (~10,000 events), whatever the prefetch.
MAX_BATCH_BYTES = 2 * 1024 * 1024


def next_slice(held: list[Delivery], *, max_count: int, max_bytes: int = MAX_BATCH_BYTES) -> int:
    """How many of the held deliveries (oldest first) to handle next: at most `max_count`, and
    stopping at the delivery that reaches `max_bytes` (so a single huge message still goes)."""
    size, count = 0, 0
    for delivery in held[:max_count]:
        size += len(delivery.body)
        count += 1
        if size >= max_bytes:
            break
    return count


@dataclass(frozen=True)
class Settlement:
    """What to tell the broker about one handled slice."""

    dead_letter_tags: list[int]  # nack(requeue=False), one by one
    ack_through: int | None  # one multiple-ack up to this tag, if anything is left to ack
    # Published to the dead-letter exchange, and confirmed, before any of the above: the parts of
    # messages that are acked once their bad parts are safe in the dead-letter queue.
    dead_letters: tuple[DeadLetter, ...] = ()


def settlement(batch: list[Delivery], outcomes: list[Outcome]) -> Settlement:
    """Dead-letter the deliveries the handler rejected, ack the rest with one multiple-ack (after
    the bad parts of partly applied ones are published to the dead-letter exchange).

    Deliveries are settled in order, so after the nacks a multiple-ack up to the highest
    remaining tag covers exactly this slice. Raises ValueError when the outcomes do not
    account for exactly the batch's deliveries: settling a delivery the handler never saw
    would lose it.
    """
    tags = [delivery.delivery_tag for delivery in batch]
    if sorted(o.delivery_tag for o in outcomes) != sorted(tags):
        raise ValueError(f"outcomes for tags {sorted(o.delivery_tag for o in outcomes)} do not match the batch {sorted(tags)}")
    rejected = [o.delivery_tag for o in outcomes if o.dead_letter_reason is not None]
    remaining = set(tags) - set(rejected)
    parts = tuple(letter for o in outcomes if o.dead_letter_reason is None for letter in o.dead_letters)
    return Settlement(dead_letter_tags=rejected, ack_through=max(remaining) if remaining else None, dead_letters=parts)
