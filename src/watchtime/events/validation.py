"""Validation of heartbeat events, shared by the API (client input) and the consumer (messages).

Hand-written rather than a DRF serializer because it runs for every event on both hot paths;
it returns per-field error lists in DRF's shape so the API answers look the same.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from watchtime.events.accounting import Heartbeat

MAX_BATCH = 1000
MAX_AT = 86400
MAX_FUTURE = timedelta(minutes=5)
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}\Z")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,100}\Z", re.ASCII)
# No control characters, and no lone surrogates (JSON can carry them, UTF-8 and so PostgreSQL cannot).
SESSION_RE = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{0,64}\Z")
RFC3339_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
CLIENT_FIELDS = frozenset({"user", "slug", "at", "event_id", "session", "ts"})
MESSAGE_FIELDS = CLIENT_FIELDS | {"received_at"}
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
        return Heartbeat(
            event_id=self.event_id,
            at=self.at,
            ts_us=None if self.ts is None else to_us(self.ts),
            received_us=to_us(self.received_at),
        )

    def as_message(self) -> dict:
        return {
            "event_id": str(self.event_id),
            "user": self.user,
            "slug": self.slug,
            "at": self.at,
            "session": self.session,
            "ts": None if self.ts is None else self.ts.isoformat(),
            "received_at": self.received_at.isoformat(),
        }


class EventsInvalid(Exception):
    """Input that is not a valid event or batch; `errors` is DRF-shaped."""

    def __init__(self, errors):
        super().__init__("invalid events")
        self.errors = errors


def to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


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
        errors["user"] = ["Required: 1-150 characters, letters, digits and @.+-_ only."]
    slug = raw.get("slug")
    if not isinstance(slug, str) or SLUG_RE.match(slug) is None:
        errors["slug"] = ["Required: 1-100 characters, letters, digits, '-' and '_' only."]
    at = raw.get("at")
    if type(at) is not int or not 0 <= at <= MAX_AT:  # bool is an int subclass: excluded by type()
        errors["at"] = [f"Required: an integer from 0 to {MAX_AT}."]

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
        errors["session"] = ["At most 64 printable characters."]

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


def parse_message_events(payload) -> list[EventIn]:
    """Events from a broker message body (already JSON-decoded); raises EventsInvalid."""
    if not isinstance(payload, dict) or set(payload) != {"v", "events"} or payload["v"] != 1:
        raise EventsInvalid({"non_field_errors": ["Not a version 1 watchtime message."]})
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


def message_payload(events: list[EventIn]) -> dict:
    return {"v": 1, "events": [event.as_message() for event in events]}
