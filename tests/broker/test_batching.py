"""The consumer's bookkeeping without a broker: slicing held deliveries by count and bytes,
and settling a handled slice (nack the rejected, one multiple-ack for the rest)."""

import pytest

from watchtime.broker.batching import Settlement, next_slice, settlement
from watchtime.broker.types import DeadLetter, Delivery, Outcome


def deliveries(*sizes: int, first_tag: int = 1) -> list[Delivery]:
    return [Delivery(first_tag + i, b"x" * size, False) for i, size in enumerate(sizes)]


def test_slice_is_bounded_by_count():
    assert next_slice(deliveries(*[10] * 7), max_count=5, max_bytes=10_000) == 5
    assert next_slice(deliveries(10, 10), max_count=5, max_bytes=10_000) == 2


def test_slice_stops_at_the_delivery_that_reaches_the_byte_bound():
    # 40 + 40 + 40 reaches 100 at the third delivery, which is included.
    assert next_slice(deliveries(40, 40, 40, 40), max_count=10, max_bytes=100) == 3
    assert next_slice(deliveries(50, 50, 1), max_count=10, max_bytes=100) == 2


def test_one_huge_message_still_forms_a_slice():
    assert next_slice(deliveries(5_000, 10), max_count=10, max_bytes=100) == 1


def test_nothing_held_is_an_empty_slice():
    assert next_slice([], max_count=10) == 0


def test_all_done_is_one_multiple_ack_up_to_the_last_tag():
    batch = deliveries(1, 1, 1, first_tag=7)
    plan = settlement(batch, [Outcome(7), Outcome(8), Outcome(9)])
    assert plan == Settlement(dead_letter_tags=[], ack_through=9)


def test_rejected_are_nacked_and_the_rest_acked_through_the_highest_remaining():
    batch = deliveries(1, 1, 1, 1, first_tag=1)
    outcomes = [Outcome(1), Outcome(2, "bad"), Outcome(3), Outcome(4, "worse")]
    assert settlement(batch, outcomes) == Settlement(dead_letter_tags=[2, 4], ack_through=3)


def test_all_rejected_leaves_nothing_to_ack():
    batch = deliveries(1, 1, first_tag=5)
    assert settlement(batch, [Outcome(5, "a"), Outcome(6, "b")]) == Settlement(dead_letter_tags=[5, 6], ack_through=None)


@pytest.mark.parametrize("outcomes", [[Outcome(1)], [Outcome(1), Outcome(2), Outcome(3)], [Outcome(1), Outcome(9)]])
def test_outcomes_must_account_for_exactly_the_batch(outcomes):
    with pytest.raises(ValueError, match="do not match"):
        settlement(deliveries(1, 1), outcomes)


def test_the_bad_parts_of_partly_applied_messages_are_dead_lettered_before_the_ack():
    letter = DeadLetter(b'{"v":1,"events":[]}', "rejected when applied: DataError")
    outcomes = [Outcome(1), Outcome(2, dead_letters=(letter,)), Outcome(3, "bad", dead_letters=(letter,))]
    plan = settlement(deliveries(1, 1, 1), outcomes)
    # The whole of message 3 goes to the dead-letter queue by its nack: its parts are not published too.
    assert plan == Settlement(dead_letter_tags=[3], ack_through=2, dead_letters=(letter,))
