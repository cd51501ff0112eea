"""The batch handler's isolation of a message the database refuses, as a plain function: one
transaction for the whole batch, halves on a data failure, an outage propagates untouched."""

import uuid
from datetime import UTC, datetime

import pytest

from watchtime.broker.types import Delivery
from watchtime.events.validation import EventIn
from watchtime.ops.consumer import Applied, apply_isolating_failures

pytestmark = pytest.mark.unit  # no services, no processes

T = datetime(2026, 1, 1, tzinfo=UTC)


class Outage(Exception):
    pass


def message(tag: int, *, poison: bool = False, events: int = 2, poison_at: tuple[int, ...] = ()):
    """A delivery of `events` events; all poison, or those at the indexes `poison_at`."""
    delivery = Delivery(tag, b"", False)
    return delivery, [EventIn(uuid.uuid4(), "u", "poison" if poison or i in poison_at else "ok", i, "", None, T)
                      for i in range(events)]


class Recorder:
    """An apply function that refuses any batch holding a poison event, and counts transactions."""

    def __init__(self, *, outage: bool = False):
        self.calls: list[int] = []
        self.outage = outage

    def __call__(self, events):
        self.calls.append(len(events))
        if self.outage:
            raise Outage("database down")
        if any(e.slug == "poison" for e in events):
            raise ValueError("value too long")
        return list(events), {"duplicate": 0}


def run(decoded, apply):
    return apply_isolating_failures(decoded, apply=apply, is_outage=lambda exc: isinstance(exc, Outage))


def test_a_good_batch_is_one_transaction():
    decoded = [message(t) for t in range(1, 9)]
    apply = Recorder()
    result = run(decoded, apply)
    assert apply.calls == [16]
    assert len(result.events) == 16 and result.rejected == []


def test_a_poison_message_is_isolated_and_the_rest_applied():
    decoded = [message(t, poison=(t == 6)) for t in range(1, 9)]
    apply = Recorder()
    result = run(decoded, apply)
    assert [d.delivery_tag for d, _ in result.rejected] == [6]
    assert "rejected when applied: ValueError: value too long" in result.rejected[0][1]
    assert len(result.events) == 14
    # Halving: 8 -> (4 ok, 4 bad) -> (2 ok, 2 bad) -> (1 bad, 1 ok): log2(8) levels, not 8 transactions;
    # then the bad message's two events one by one (both bad: the message is dead-lettered whole).
    assert len(apply.calls) == 9


def test_two_poison_messages_are_both_isolated():
    decoded = [message(t, poison=t in (1, 8)) for t in range(1, 9)]
    result = run(decoded, Recorder())
    assert sorted(d.delivery_tag for d, _ in result.rejected) == [1, 8]
    assert len(result.events) == 12


def test_an_outage_propagates_and_keeps_the_batch():
    with pytest.raises(Outage):
        run([message(1), message(2)], Recorder(outage=True))


def test_messages_without_events_apply_nothing():
    apply = Recorder()
    assert run([], apply) == Applied() and apply.calls == []


def test_a_poison_event_in_a_message_of_many_requests_is_rejected_alone():
    """Group commit puts the events of many requests in one message: only the bad one is rejected."""
    decoded = [message(1, events=3), message(2, events=8, poison_at=(5,)), message(3, events=3)]
    apply = Recorder()
    result = run(decoded, apply)
    assert result.rejected == []
    [(delivery, event, reason)] = result.rejected_events
    assert delivery.delivery_tag == 2 and event is decoded[1][1][5] and "value too long" in reason
    assert len(result.events) == 13
    # All (14), then halves: message 1 (3) and messages 2+3 (11), then message 2 alone (8) and its events
    # halved depth first: 4 + 4 (bad), 2 (bad) -> 1 + 1, 2; then message 3 (3): eleven transactions for one poison in 14.
    assert apply.calls == [14, 3, 11, 8, 4, 4, 2, 1, 1, 2, 3]


def test_two_poison_events_of_one_message_are_both_rejected_and_the_rest_applied():
    decoded = [message(1, events=6, poison_at=(0, 4))]
    result = run(decoded, Recorder())
    assert sorted(event.at for _, event, _ in result.rejected_events) == [0, 4]
    assert sorted(e.at for e in result.events) == [1, 2, 3, 5]


def test_an_outage_while_isolating_events_propagates():
    class FailsLater(Recorder):
        def __call__(self, events):
            if len(self.calls) >= 1:
                self.outage = True
            return super().__call__(events)

    with pytest.raises(Outage):
        run([message(1, events=4, poison_at=(2,))], FailsLater())
