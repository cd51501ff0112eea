"""Time as the service stores it: microseconds since the Unix epoch (UTC), and RFC 3339 date-times
with a UTC offset read into aware datetimes."""

import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RFC3339_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)


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
