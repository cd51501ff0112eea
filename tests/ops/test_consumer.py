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


def message(tag: int, *, poison: bool = False, events: int = 2):
    delivery = Delivery(tag, b"", False)
    slug = "poison" if poison else "ok"
    return delivery, [EventIn(uuid.uuid4(), "u", slug, i, "", None, T) for i in range(events)]


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
    # Halving: 8 -> (4 ok, 4 bad) -> (2 ok, 2 bad) -> (1 bad, 1 ok): log2(8) levels, not 8 transactions.
    assert len(apply.calls) == 7


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
