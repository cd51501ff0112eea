"""The publisher's circuit as a plain state machine: which reports open, close, block and unblock it."""

import pytest

from watchtime.broker.circuit import Circuit, Snapshot, State


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def closed(clock) -> Circuit:
    circuit = Circuit(clock)
    assert circuit.connected()
    return circuit


def test_a_new_circuit_refuses_until_a_connection_works(clock):
    circuit = Circuit(clock)
    assert circuit.snapshot().state is State.OPEN
    assert circuit.refusal() == "not connected yet"
    clock.now = 101.5
    assert circuit.connected() is True
    assert circuit.refusal() is None
    assert circuit.snapshot().since == 101.5


def test_a_failed_probe_keeps_it_open_with_the_latest_reason_and_the_first_time(clock):
    circuit = Circuit(clock)
    clock.now = 103.0
    assert circuit.lost("cannot connect: refused") is False  # open already: no new outage
    assert circuit.refusal() == "cannot connect: refused"
    assert circuit.snapshot().since == 100.0


def test_losing_the_connection_opens_it(clock):
    circuit = closed(clock)
    clock.now = 110.0
    assert circuit.lost("connection closed: heartbeat missed") is True
    assert circuit.snapshot() == Snapshot(State.OPEN, "connection closed: heartbeat missed", 110.0)
    assert circuit.connected() is True and circuit.refusal() is None


def test_a_stall_opens_a_closed_circuit_once(clock):
    circuit = closed(clock)
    assert circuit.stalled("no publisher confirm within 5 s") is True
    # The other requests that time out on the same connection do not abandon it again,
    assert circuit.stalled("no publisher confirm within 5 s") is False
    # and the closing of the abandoned connection is no new outage.
    assert circuit.lost("connection closed: stalled") is False
    assert circuit.snapshot().state is State.OPEN


def test_blocked_refuses_and_unblocked_resumes(clock):
    circuit = closed(clock)
    clock.now = 120.0
    assert circuit.blocked("the broker blocks publishing (low on memory)") is True
    assert circuit.refusal() == "the broker blocks publishing (low on memory)"
    assert circuit.snapshot().since == 120.0
    clock.now = 125.0
    assert circuit.unblocked() is True
    assert circuit.snapshot() == Snapshot(State.CLOSED, "", 125.0)


def test_unconfirmed_messages_of_a_blocked_connection_are_no_stall(clock):
    circuit = closed(clock)
    circuit.blocked("low on memory")
    assert circuit.stalled("no publisher confirm within 5 s") is False
    assert circuit.snapshot().state is State.BLOCKED


def test_a_blocked_connection_that_is_lost_stays_open_when_the_unblock_comes_late(clock):
    circuit = closed(clock)
    circuit.blocked("low on disk")
    assert circuit.lost("connection closed") is True
    assert circuit.unblocked() is False
    assert circuit.refusal() == "connection closed"


def test_block_and_unblock_of_a_connection_given_up_change_nothing(clock):
    circuit = closed(clock)
    circuit.stalled("no publisher confirm within 5 s")
    assert circuit.blocked("low on memory") is False
    assert circuit.unblocked() is False
    assert circuit.snapshot().state is State.OPEN


def test_the_only_way_out_of_open_is_a_working_connection(clock):
    circuit = Circuit(clock)
    for report in (lambda: circuit.unblocked(), lambda: circuit.blocked("x"), lambda: circuit.stalled("y")):
        report()
        assert circuit.snapshot().state is State.OPEN
    circuit.connected()
    assert circuit.snapshot().state is State.CLOSED
