"""The broker message format, in one place: `encode(events) -> bytes`, `decode(body) -> events`.

A message is UTF-8 JSON `{"v": 1, "events": [...]}`: the events of one accepted request, each
with the `event_id` and `received_at` the API gave it, so every consumer sees the same event.
The broker moves these bytes and knows nothing of their content.
"""

import json

from watchtime.events.validation import CLIENT_FIELDS, MAX_BATCH, EventIn, EventsInvalid, parse_event
from watchtime.timestamps import parse_rfc3339

FORMAT_VERSION = 1
CONTENT_TYPE = "application/json"
MESSAGE_FIELDS = CLIENT_FIELDS | {"received_at"}


class PoisonMessage(ValueError):
    """A message that can never be applied; its text is the reason (logged, never the payload)."""


def encode(events: list[EventIn]) -> bytes:
    payload = {"v": FORMAT_VERSION, "events": [_event(event) for event in events]}
    return json.dumps(payload, separators=(",", ":")).encode()


def decode(body: bytes) -> list[EventIn]:
    """The events of one message; raises PoisonMessage with the reason."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"undecodable JSON: {exc}") from None
    try:
        return _events(payload)
    except EventsInvalid as exc:
        raise PoisonMessage(f"invalid message: {json.dumps(exc.errors)}") from None
    except Exception as exc:  # e.g. a date at the end of the calendar overflowing: still this message's fault
        raise PoisonMessage(f"invalid message: {type(exc).__name__}: {exc}") from None


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


def _events(payload) -> list[EventIn]:
    if not isinstance(payload, dict) or set(payload) != {"v", "events"} or payload["v"] != FORMAT_VERSION:
        raise EventsInvalid({"non_field_errors": [f"Not a version {FORMAT_VERSION} watchtime message."]})
    raw_events = payload["events"]
    if not isinstance(raw_events, list) or not 1 <= len(raw_events) <= MAX_BATCH:
        raise EventsInvalid({"non_field_errors": [f"A message must hold 1 to {MAX_BATCH} events."]})
    events = []
    for index, raw in enumerate(raw_events):
        received_at = parse_rfc3339(raw.get("received_at")) if isinstance(raw, dict) else None
        if received_at is None:
            raise EventsInvalid({"items": {str(index): {"received_at": ["Required: an RFC 3339 date-time."]}}})
        if not isinstance(raw.get("event_id"), str):
            raise EventsInvalid({"items": {str(index): {"event_id": ["Required in a message."]}}})
        try:
            events.append(parse_event(raw, received_at=received_at, fields=MESSAGE_FIELDS))
        except EventsInvalid as exc:
            raise EventsInvalid({"items": {str(index): exc.errors}}) from None
    return events
