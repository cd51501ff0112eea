from datetime import UTC, datetime

import pytest

from watchtime.events.validation import EventsInvalid, parse_events

pytestmark = pytest.mark.unit  # no services, no processes

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def errors_of(payload):
    with pytest.raises(EventsInvalid) as caught:
        parse_events(payload, now=NOW)
    return caught.value.errors


def test_minimal_event_gets_defaults():
    (event,) = parse_events({"user": "alice", "slug": "m-1", "at": 0}, now=NOW)
    assert (event.session, event.ts, event.received_at) == ("", None, NOW)
    assert event.event_id.version == 7  # time-ordered (watchtime.ids)


def test_array_keeps_its_order_in_received_at():
    events = parse_events([{"user": "a", "slug": "s", "at": i} for i in range(5)], now=NOW)
    received = [e.received_at for e in events]
    assert received == sorted(received) and len(set(received)) == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user", ""),
        ("user", "x" * 151),
        ("user", "has space"),
        ("user", "semi;colon"),
        ("user", 5),
        ("slug", "sl/ash"),
        ("slug", "é"),
        ("slug", "x" * 101),
        ("at", -1),
        ("at", 86401),
        ("at", 1.5),
        ("at", True),
        ("at", "10"),
        ("at", 10**30),
        ("event_id", "not-a-uuid"),
        ("event_id", 5),
        ("session", "x" * 65),
        ("session", "nul\x00byte"),
        ("session", "lone \ud800 surrogate"),  # valid JSON, but not encodable text
        ("ts", "2026-06-01T12:00:00"),  # no offset
        ("ts", "yesterday"),
        ("ts", "2026-06-01T12:06:00Z"),  # more than 5 minutes ahead
        ("ts", "0001-01-01T00:00:00+01:00"),  # out of range once in UTC
        ("ts", 1700000000),
    ],
)
def test_bad_field_is_named(field, value):
    event = {"user": "alice", "slug": "m1", "at": 0, field: value}
    assert field in errors_of(event)


def test_unknown_fields_are_refused():
    assert "non_field_errors" in errors_of({"user": "a", "slug": "s", "at": 0, "extra": 1})


def test_one_bad_item_refuses_the_whole_batch_with_its_index():
    errors = errors_of([{"user": "a", "slug": "s", "at": 0}, {"user": "a", "slug": "s", "at": -5}])
    assert list(errors["items"]) == ["1"]


@pytest.mark.parametrize("payload", [[], [{"user": "a", "slug": "s", "at": 0}] * 1001, "text", 5, None])
def test_batch_shape(payload):
    assert "non_field_errors" in errors_of(payload)
