"""The broker message format: what the API encodes the consumer decodes, and what cannot be
decoded is a poison message with its reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from watchtime.events import messages
from watchtime.events.validation import parse_events

pytestmark = pytest.mark.unit  # no services, no processes

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_message_round_trip():
    events = parse_events([{"user": "a", "slug": "s", "at": 3, "ts": "2026-06-01T11:59:00Z", "session": "x"}], now=NOW)
    assert messages.decode(messages.encode(events)) == messages.Decoded(events)


@pytest.mark.parametrize(
    "payload",
    [
        {"events": []},
        {"v": 2, "events": [{}]},
        {"v": 1, "events": [{"user": "a", "slug": "s", "at": 0}]},  # no received_at / event_id
        {"v": 1, "events": "x"},
        [1, 2],
    ],
)
def test_bad_messages(payload):
    with pytest.raises(messages.PoisonMessage):
        messages.decode(json.dumps(payload).encode())


def test_future_ts_is_judged_against_receive_time():
    received = NOW - timedelta(hours=1)
    (event,) = parse_events({"user": "a", "slug": "s", "at": 0, "ts": "2026-06-01T11:03:00Z"}, now=received)
    assert messages.decode(messages.encode([event])).events[0].ts == event.ts


@pytest.mark.parametrize("body", [b"\xff\xfe", b"{not json", b'{"v": 1, "events": [{"at": 1e999}]}'])
def test_undecodable_bodies_are_poison_with_a_reason(body):
    with pytest.raises(messages.PoisonMessage, match="undecodable JSON|invalid message"):
        messages.decode(body)


def test_encoded_message_is_compact_versioned_json():
    (event,) = parse_events({"user": "a", "slug": "s", "at": 0}, now=NOW)
    payload = json.loads(messages.encode([event]))
    assert payload["v"] == messages.FORMAT_VERSION
    assert payload["events"][0]["event_id"] == str(event.event_id)
    assert payload["events"][0]["received_at"] == NOW.isoformat()
    assert b" " not in messages.encode([event])


def events_of(count: int, offset: int = 0):
    return parse_events([{"user": f"u{i}", "slug": "s", "at": i} for i in range(offset, offset + count)], now=NOW)


def test_parts_combine_into_the_message_that_encode_makes_of_all_their_events():
    first, second = events_of(2), events_of(3, offset=2)
    combined = messages.combine([messages.encode_part(first), messages.encode_part(second)])
    assert combined == messages.encode(first + second)
    assert messages.decode(combined).events == first + second


def test_a_combined_message_is_what_the_previous_release_reads_one_version_1_message():
    """The previous release's consumers accept {"v": 1, "events": [1..1000 events]} and nothing else."""
    payload = json.loads(messages.combine([messages.encode_part(events_of(600)), messages.encode_part(events_of(400))]))
    assert set(payload) == {"v", "events"} and payload["v"] == 1 and len(payload["events"]) == 1000
    assert all(set(e) == {"event_id", "user", "slug", "at", "session", "ts", "received_at"} for e in payload["events"])


def test_a_bad_event_among_good_ones_is_rejected_alone_as_a_message_of_its_own():
    good = json.loads(messages.encode(events_of(2)))["events"]
    bad = {**good[0], "event_id": "not-a-uuid"}
    decoded = messages.decode(json.dumps({"v": 1, "events": [good[0], bad, good[1]]}).encode())
    assert [str(e.event_id) for e in decoded.events] == [good[0]["event_id"], good[1]["event_id"]]
    [rejected] = decoded.rejected
    assert json.loads(rejected.body) == {"v": 1, "events": [bad]}
    assert "items" in rejected.reason and "event_id" in rejected.reason


def test_a_message_of_bad_events_only_is_poison_whole():
    good = json.loads(messages.encode(events_of(1)))["events"][0]
    with pytest.raises(messages.PoisonMessage, match="invalid message"):
        messages.decode(json.dumps({"v": 1, "events": [{**good, "at": "ten"}, {**good, "user": 42}]}).encode())
