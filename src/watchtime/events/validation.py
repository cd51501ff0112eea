"""Validation of heartbeat events, shared by the API (client input) and the consumer (messages).

Hand-written rather than a DRF serializer because it runs for every event on both hot paths;
it returns per-field error lists in DRF's shape so the API answers look the same.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchtime.errors import DomainError
from watchtime.ids import uuid7
from watchtime.patterns import (
    MAX_POSITION_SECONDS,
    SESSION_HELP,
    SESSION_RE,
    SLUG_HELP,
    SLUG_RE,
    USERNAME_HELP,
    USERNAME_RE,
)
from watchtime.rule.credit import Heartbeat
from watchtime.timestamps import parse_rfc3339, to_us

MAX_BATCH = 1000
MAX_FUTURE = timedelta(minutes=5)
CLIENT_FIELDS = frozenset({"user", "slug", "at", "event_id", "session", "ts"})


@dataclass(frozen=True, slots=True)
class EventIn:
    event_id: uuid.UUID
    user: str
    slug: str
    at: int
    session: str
    ts: datetime | None
    received_at: datetime

    def heartbeat(self) -> Heartbeat:
        ts_us = None if self.ts is None else to_us(self.ts)
        return Heartbeat(
            event_id=self.event_id,
            at=self.at,
            ts_us=ts_us,
            key_us=to_us(self.received_at) if ts_us is None else ts_us,
        )


class EventsInvalid(DomainError):
    """Input that is not a valid event or batch; `errors` (its details) is DRF-shaped. The API
    answers it as any DomainError: 400 `invalid`."""

    def __init__(self, errors):
        super().__init__("invalid", "The request holds invalid events; nothing was accepted.", details=errors)
        self.errors = errors


def parse_event(raw, *, received_at: datetime, fields: frozenset = CLIENT_FIELDS) -> EventIn:
    """One event from decoded JSON; raises EventsInvalid with per-field errors."""
    if not isinstance(raw, dict):
        raise EventsInvalid({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - fields)
    if unknown:
        errors["non_field_errors"] = [f"Unknown field(s): {', '.join(map(repr, unknown))}."]

    user = raw.get("user")
    if not isinstance(user, str) or USERNAME_RE.match(user) is None:
        errors["user"] = [f"Required: {USERNAME_HELP}"]
    slug = raw.get("slug")
    if not isinstance(slug, str) or SLUG_RE.match(slug) is None:
        errors["slug"] = [f"Required: {SLUG_HELP}"]
    at = raw.get("at")
    if type(at) is not int or not 0 <= at <= MAX_POSITION_SECONDS:  # bool is an int subclass: excluded by type()
        errors["at"] = [f"Required: an integer from 0 to {MAX_POSITION_SECONDS}."]

    event_id = raw.get("event_id")
    if event_id is None:
        event_id = uuid7()
    else:
        try:
            if not isinstance(event_id, str) or len(event_id) > 36:
                raise ValueError
            event_id = uuid.UUID(event_id)
        except ValueError:
            errors["event_id"] = ["Must be a UUID."]

    session = raw.get("session")
    if session is None:
        session = ""
    elif not isinstance(session, str) or SESSION_RE.match(session) is None:
        errors["session"] = [SESSION_HELP]

    ts = raw.get("ts")
    if ts is not None:
        ts = parse_rfc3339(ts)
        if ts is None:
            errors["ts"] = ["Must be an RFC 3339 date-time with a UTC offset."]
        elif ts > received_at + MAX_FUTURE:
            errors["ts"] = ["Must not be more than 5 minutes in the future."]

    if errors:
        raise EventsInvalid(errors)
    return EventIn(
        event_id=event_id, user=user, slug=slug, at=at, session=session, ts=ts, received_at=received_at
    )


def parse_events(payload, *, now: datetime) -> list[EventIn]:
    """Client input (one event or an array of 1..MAX_BATCH) -> events, all or nothing.

    The events of an array get strictly increasing `received_at` along the array, so their
    arrival order is kept for events without a wall clock.
    """
    if isinstance(payload, dict):
        return [parse_event(payload, received_at=now)]
    if not isinstance(payload, list):
        raise EventsInvalid({"non_field_errors": ["Expected an event object or an array of events."]})
    if not 1 <= len(payload) <= MAX_BATCH:
        raise EventsInvalid({"non_field_errors": [f"An array must hold 1 to {MAX_BATCH} events."]})
    events, errors = [], {}
    for index, raw in enumerate(payload):
        try:
            events.append(parse_event(raw, received_at=now + timedelta(microseconds=index)))
        except EventsInvalid as exc:
            errors[str(index)] = exc.errors
    if errors:
        raise EventsInvalid({"items": errors})
    return events
