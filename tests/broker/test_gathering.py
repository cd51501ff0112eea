"""Group commit's bookkeeping: which parts go out together, when, and who hears what."""

import pytest

from watchtime.broker.gathering import Gathering, Part, Stage
from watchtime.broker.types import BrokerUnavailable


def joined(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"


def other(parts: list[bytes]) -> bytes:
    return b"|".join(parts)


def add(gathering: Gathering, items: int, body: bytes = b"x", combine=joined):
    part = Part(body, items)
    ready, opened = gathering.add(part, combine=combine, content_type="application/json")
    return part, ready, opened


def test_parts_gather_in_one_group_until_its_timer_hands_it_over():
    gathering = Gathering(max_items=10)
    first, ready, opened = add(gathering, 2, b"a")
    assert ready == [] and opened is first.group
    second, ready, opened = add(gathering, 3, b"b")
    assert ready == [] and opened is None and second.group is first.group
    group = first.group
    assert gathering.due(group) and group.stage is Stage.QUEUED
    assert gathering.hand_over(group)
    assert group.body() == b"[a,b]" and group.items == 5


def test_a_group_that_reaches_the_limit_is_handed_over_at_once_and_its_timer_does_nothing():
    gathering = Gathering(max_items=5)
    first, _, opened = add(gathering, 2)
    second, ready, _ = add(gathering, 3)
    assert ready == [first.group] and first.group is second.group
    assert not gathering.due(opened)  # the timer finds it queued already
    third, ready, opened = add(gathering, 1)
    assert ready == [] and opened is third.group and third.group is not first.group


def test_a_part_that_does_not_fit_closes_the_open_group_first_and_no_request_is_split():
    gathering = Gathering(max_items=5)
    first, _, _ = add(gathering, 4)
    second, ready, opened = add(gathering, 3)
    assert ready == [first.group]
    assert opened is second.group and second.group.parts == [second]


def test_a_part_of_the_limit_or_more_goes_alone_after_the_open_group():
    gathering = Gathering(max_items=5)
    small, _, _ = add(gathering, 1)
    big, ready, opened = add(gathering, 5)
    assert ready == [small.group, big.group] and opened is None
    assert [p.items for p in big.group.parts] == [5]


def test_parts_of_different_formats_never_share_a_message():
    gathering = Gathering(max_items=10)
    first, _, _ = add(gathering, 1)
    second, ready, opened = add(gathering, 1, combine=other)
    assert ready == [first.group] and opened is second.group


def test_a_withdrawn_part_is_left_out_until_the_group_is_handed_over():
    gathering = Gathering(max_items=10)
    first, _, _ = add(gathering, 1, b"a")
    second, _, _ = add(gathering, 1, b"b")
    assert gathering.withdraw(first)
    assert not gathering.withdraw(first)  # once
    group = second.group
    gathering.due(group)
    assert gathering.hand_over(group) and group.body() == b"[b]"
    assert not gathering.withdraw(second)  # published: its answer comes from the broker


def test_a_group_whose_every_part_was_withdrawn_is_not_published():
    gathering = Gathering(max_items=10)
    part, _, _ = add(gathering, 1)
    gathering.withdraw(part)
    gathering.due(part.group)
    assert not gathering.hand_over(part.group)


def test_giving_up_answers_every_group_not_handed_over_and_they_are_never_published():
    gathering = Gathering(max_items=3)
    queued, _, _ = add(gathering, 3)
    open_, _, _ = add(gathering, 1)
    handed, _, _ = add(gathering, 3)
    assert gathering.hand_over(handed.group)
    groups = gathering.give_up()
    assert groups == [queued.group, open_.group]
    for group in groups:
        group.settle(BrokerUnavailable("connection closed"))
    assert isinstance(queued.future.exception(), BrokerUnavailable)
    assert isinstance(open_.future.exception(), BrokerUnavailable)
    assert not handed.future.done()
    assert not gathering.hand_over(queued.group) and not gathering.due(open_.group)


def test_one_answer_settles_every_request_in_the_message_once():
    gathering = Gathering(max_items=2)
    first, _, _ = add(gathering, 1)
    second, ready, _ = add(gathering, 1)
    [group] = ready
    group.settle(None)
    group.settle(BrokerUnavailable("late"))  # a second answer is dropped
    assert first.future.result() is None and second.future.result() is None


def test_a_single_message_is_queued_on_its_own():
    gathering = Gathering(max_items=10)
    open_, _, _ = add(gathering, 1)
    alone = Part(b"m", 1)
    group = gathering.single(alone, combine=joined, content_type="application/json")
    assert group.stage is Stage.QUEUED and group is not open_.group
    assert gathering.hand_over(group) and group.body() == b"[m]"


@pytest.mark.parametrize("limit", [0, -1])
def test_the_limit_is_at_least_one(limit):
    with pytest.raises(ValueError):
        Gathering(max_items=limit)
