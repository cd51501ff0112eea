"""The broker message format, in one place: `encode(events) -> bytes`, `decode(body) -> events`.

A message is UTF-8 JSON `{"v": 1, "events": [...]}` with 1 to 1000 events: those of the requests
an API process gathered into it (group commit; `encode_part` per request, `combine` per message),
each with the `event_id` and `received_at` the API gave it, so every consumer sees the same event.
The previous release published one message per request in the same format, and its consumers
read these: a message never holds more than 1000 events.
The broker moves these bytes and knows nothing of their content.
"""

import json
from dataclasses import dataclass, field

from watchtime.events.validation import CLIENT_FIELDS, MAX_BATCH, EventIn, EventsInvalid, parse_event
from watchtime.timestamps import parse_rfc3339

FORMAT_VERSION = 1
CONTENT_TYPE = "application/json"
MESSAGE_FIELDS = CLIENT_FIELDS | {"received_at"}


class PoisonMessage(ValueError):
    """A message that can never be applied; its text is the reason (logged, never the payload)."""


@dataclass(frozen=True)
class Rejected:
    """One event of a message that can never be applied, as a message of its own (so that, once
    the cause is fixed, it can be moved back), and why."""

    body: bytes
    reason: str


@dataclass(frozen=True)
class Decoded:
    events: list[EventIn]
    rejected: list[Rejected] = field(default_factory=list)  # the message's other events, each with its reason


def encode(events: list[EventIn]) -> bytes:
    return combine([encode_part(events)])


def encode_part(events: list[EventIn]) -> bytes:
    """One request's events as a part of a message that `combine` joins with others' (group commit)."""
    return b",".join(json.dumps(_event(event), separators=(",", ":")).encode() for event in events)


def combine(parts: list[bytes]) -> bytes:
    """The message holding these parts' events, in order: as `encode` of all of them."""
    return b'{"v":%d,"events":[' % FORMAT_VERSION + b",".join(parts) + b"]}"


def decode(body: bytes) -> Decoded:
    """The events of one message, and those of its events that can never be applied (a message
    holds the events of several requests: one bad event must not take the others down). Raises
    PoisonMessage with the reason when nothing of it can be applied."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"undecodable JSON: {exc}") from None
    try:
        raw_events = _envelope(payload)
    except EventsInvalid as exc:
        raise PoisonMessage(f"invalid message: {json.dumps(exc.errors)}") from None
    events, rejected = [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(_event_in(raw))
        except EventsInvalid as exc:
            rejected.append(Rejected(reject_body(raw), f"invalid message: {json.dumps({'items': {str(index): exc.errors}})}"))
        except Exception as exc:  # e.g. a date at the end of the calendar overflowing: still this event's fault
            rejected.append(Rejected(reject_body(raw), f"invalid message: {type(exc).__name__}: {exc}"))
    if not events:
        raise PoisonMessage(rejected[0].reason)
    return Decoded(events, rejected)


def reject_body(raw) -> bytes:
    """A message of its own holding one event exactly as it came (for the dead-letter queue)."""
    return json.dumps({"v": FORMAT_VERSION, "events": [raw]}, separators=(",", ":")).encode()


def _event(event: EventIn) -> dict:
    return {
        "event_id": str(event.event_id),
        "user": event.user,
        "slug": event.slug,
        "at": event.at,
        "session": event.session,
        "ts": None if event.ts is None else event.ts.isoformat(),
        "received_at": event.received_at.isoformat(),
    }


def _envelope(payload) -> list:
    if not isinstance(payload, dict) or set(payload) != {"v", "events"} or payload["v"] != FORMAT_VERSION:
        raise EventsInvalid({"non_field_errors": [f"Not a version {FORMAT_VERSION} watchtime message."]})
    raw_events = payload["events"]
    if not isinstance(raw_events, list) or not 1 <= len(raw_events) <= MAX_BATCH:
        raise EventsInvalid({"non_field_errors": [f"A message must hold 1 to {MAX_BATCH} events."]})
    return raw_events


def _event_in(raw) -> EventIn:
    received_at = parse_rfc3339(raw.get("received_at")) if isinstance(raw, dict) else None
    if received_at is None:
        raise EventsInvalid({"received_at": ["Required: an RFC 3339 date-time."]})
    if not isinstance(raw.get("event_id"), str):
        raise EventsInvalid({"event_id": ["Required in a message."]})
    return parse_event(raw, received_at=received_at, fields=MESSAGE_FIELDS)
