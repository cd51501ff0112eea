"""The publisher's confirm bookkeeping: what each broker confirm tells the waiting requests."""

from concurrent.futures import Future

import pytest

from watchtime.broker.confirms import Confirms, settle
from watchtime.broker.types import BrokerUnavailable, PublishUnconfirmed


def outcome(future: Future):
    if not future.done():
        return "waiting"
    error = future.exception()
    return "stored" if error is None else type(error)


@pytest.fixture
def confirms():
    return Confirms()


def publish(confirms: Confirms, count: int) -> list[Future]:
    futures = [Future() for _ in range(count)]
    assert [confirms.add(f) for f in futures] == list(range(1, count + 1))
    return futures


def test_a_multiple_ack_settles_every_message_up_to_its_tag(confirms):
    futures = publish(confirms, 4)
    confirms.confirm(3, multiple=True, acked=True)
    assert [outcome(f) for f in futures] == ["stored", "stored", "stored", "waiting"]
    assert confirms.waiting(futures[3]) and not confirms.waiting(futures[0])


def test_a_single_ack_settles_only_its_own_message(confirms):
    futures = publish(confirms, 3)
    confirms.confirm(2, multiple=False, acked=True)
    assert [outcome(f) for f in futures] == ["waiting", "stored", "waiting"]


def test_a_nack_is_not_known_to_be_stored(confirms):
    futures = publish(confirms, 2)
    confirms.confirm(2, multiple=True, acked=False)
    assert [outcome(f) for f in futures] == [PublishUnconfirmed, PublishUnconfirmed]


def test_a_returned_message_is_refused_even_though_its_ack_follows(confirms):
    futures = publish(confirms, 2)
    confirms.returned(1)
    confirms.confirm(2, multiple=True, acked=True)
    assert outcome(futures[0]) is BrokerUnavailable and not isinstance(futures[0].exception(), PublishUnconfirmed)
    assert outcome(futures[1]) == "stored"


def test_failing_all_leaves_each_message_unknown_and_a_late_confirm_changes_nothing(confirms):
    futures = publish(confirms, 2)
    confirms.fail_all("the broker blocked the connection before confirming")
    assert [outcome(f) for f in futures] == [PublishUnconfirmed, PublishUnconfirmed]
    assert str(futures[0].exception()) == "the broker blocked the connection before confirming"
    confirms.confirm(2, multiple=True, acked=True)  # after the unblock: the requests were answered
    assert [outcome(f) for f in futures] == [PublishUnconfirmed, PublishUnconfirmed]


def test_a_new_channel_numbers_from_one_again(confirms):
    publish(confirms, 3)
    confirms.fail_all("channel closed")
    confirms.new_channel()
    assert confirms.add(Future()) == 1


def test_a_withdrawn_publish_is_not_waited_for(confirms):
    [future] = publish(confirms, 1)
    confirms.withdraw(1)
    assert not confirms.waiting(future)
    confirms.fail_all("connection closed")
    assert outcome(future) == "waiting"  # its request is answered by whoever withdrew it


def test_settle_answers_once():
    future = Future()
    settle(future, BrokerUnavailable("channel is not open"))
    settle(future, None)
    assert outcome(future) is BrokerUnavailable
