"""Time ranges of analytics queries: parsing `from`/`to`, flooring and ceiling them to buckets,
the defaults and the limits. Buckets are hours or days since the epoch, UTC."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from watchtime.errors import DomainError
from watchtime.rule.attribution import DAY_US, HOUR_US
from watchtime.timestamps import from_us, parse_rfc3339, to_us

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)


@dataclass(frozen=True)
class Interval:
    name: str
    bucket_us: int
    default_span: int  # buckets
    max_span: int  # buckets


HOUR = Interval("hour", HOUR_US, 48, 31 * 24)
DAY = Interval("day", DAY_US, 30, 366)
INTERVALS = {i.name: i for i in (HOUR, DAY)}


@dataclass(frozen=True)
class Range:
    """[first, end) in buckets of `interval`."""

    interval: Interval
    first: int
    end: int

    @property
    def start_us(self) -> int:
        return self.first * self.interval.bucket_us

    @property
    def end_us(self) -> int:
        return self.end * self.interval.bucket_us

    @property
    def start_time(self) -> datetime:
        return bucket_time(self.first, self.interval)

    @property
    def end_time(self) -> datetime:
        return bucket_time(self.end, self.interval)

    def buckets(self) -> range:
        return range(self.first, self.end)


def bucket_time(bucket: int, interval: Interval) -> datetime:
    return from_us(bucket * interval.bucket_us)


def parse_moment(name: str, raw: str | None) -> int | None:
    """Microseconds since the epoch of an RFC 3339 date-time or a YYYY-MM-DD date (UTC midnight)."""
    if raw is None:
        return None
    moment = parse_rfc3339(raw)
    if moment is None and DATE_RE.match(raw):
        try:
            moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        except ValueError:
            moment = None
    if moment is None:
        raise DomainError("invalid", f"'{name}' must be an RFC 3339 date-time or a YYYY-MM-DD date.", details={name: [raw[:100]]})
    return to_us(moment)


def moment_range(raw_from: str | None, raw_to: str | None) -> tuple[int | None, int | None]:
    """`from` and `to` as given, either may be absent (an open end); refuses from >= to."""
    start_us, end_us = parse_moment("from", raw_from), parse_moment("to", raw_to)
    if start_us is not None and end_us is not None and start_us >= end_us:
        raise DomainError("invalid", "'from' must be before 'to'.")
    return start_us, end_us


def bucket_range(interval: Interval, raw_from: str | None, raw_to: str | None, *, now: datetime) -> Range:
    """`from` floored and `to` ceiled to whole buckets; by default the last `default_span`
    buckets up to now. Refuses an empty range and one over `max_span` buckets."""
    start_us, end_us = parse_moment("from", raw_from), parse_moment("to", raw_to)
    end = -(-(end_us if end_us is not None else to_us(now)) // interval.bucket_us)
    first = start_us // interval.bucket_us if start_us is not None else end - interval.default_span
    if first >= end:
        raise DomainError("invalid", "'from' must be before 'to'.")
    if end - first > interval.max_span:
        raise DomainError("invalid", f"At most {interval.max_span} {interval.name}s per query.")
    result = Range(interval, first, end)
    try:
        result.start_time, result.end_time
    except OverflowError:
        raise DomainError("invalid", "'from' and 'to' must lie between the years 1 and 9999.") from None
    return result
