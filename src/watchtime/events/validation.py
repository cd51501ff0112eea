"""Validation of heartbeat events, shared by the API (client input) and the consumer (messages).

Hand-written rather than a DRF serializer because it runs for every event on both hot paths;
it returns per-field error lists in DRF's shape so the API answers look the same.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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

MAX_BATCH = 1000
MAX_FUTURE = timedelta(minutes=5)
RFC3339_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
CLIENT_FIELDS = frozenset({"user", "slug", "at", "event_id", "session", "ts"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


class EventsInvalid(Exception):
    """Input that is not a valid event or batch; `errors` is DRF-shaped."""

    def __init__(self, errors):
        super().__init__("invalid events")
        self.errors = errors


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int | None) -> datetime | None:
    """The UTC datetime of microseconds since the epoch (None stays None)."""
    return None if us is None else EPOCH + timedelta(microseconds=us)


def parse_rfc3339(value) -> datetime | None:
    """An aware datetime from an RFC 3339 string, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = RFC3339_RE.match(value)
    if match is None:
        return None
    date, time, fraction, offset = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]  # RFC 3339 allows any precision; keep microseconds
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        moment = datetime.fromisoformat(f"{date}T{time}.{micro}{offset}")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


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
        event_id = uuid.uuid4()
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
