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
    assert messages.decode(messages.encode(events)) == events


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
    assert messages.decode(messages.encode([event]))[0].ts == event.ts


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
