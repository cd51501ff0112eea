"""Local hours and days of an IANA time zone as UTC quarter-hour ranges: the bucket arithmetic of
every zoned analytics answer.

Since 1980 every offset in the tz database is a whole number of quarter hours, so each local
bucket is a whole number of UTC quarter hours and rollups kept per quarter add up to it exactly.

- A local **day** runs from local midnight to the next local midnight (23, 23.5, 24, 24.5 or 25
  hours); when midnight itself is skipped, the day starts at its first instant.
- A local **hour** holds the instants whose local clock shows the same date, hour and offset,
  and starts at its first instant: a fall-back's repeated hour comes twice (one per offset), a
  spring-forward's skipped hour is absent, a half-hour change (Australia/Lord_Howe) gives a
  30-minute bucket.

Times are microseconds since the epoch (UTC), as the service stores them.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

QUARTER_US = 15 * 60 * 1_000_000
QUARTERS_PER_HOUR = 4
QUARTERS_PER_DAY = 96
INTERVALS = ("hour", "day")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)


class NotQuarterAligned(ValueError):
    """A bucket boundary of the zone is not on a UTC quarter hour (offsets before 1980)."""

    def __init__(self, zone: str, at_us: int):
        super().__init__(f"{zone} has a bucket boundary off the UTC quarter hours near {_utc(at_us).isoformat()}")
        self.zone, self.at_us = zone, at_us


class Bucket(NamedTuple):
    """One local bucket: [utc_start, utc_end) in microseconds since the epoch, both on UTC
    quarter hours, and its first instant on the zone's clock (a datetime with that offset)."""

    utc_start: int
    utc_end: int
    local_start: datetime


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def is_zone(name: str) -> bool:
    """Whether `name` is a zone as the tz database spells it (`Asia/Kathmandu`, `UTC`)."""
    return isinstance(name, str) and name in _names()


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone named `name`; ValueError when the tz database has no such zone."""
    if not is_zone(name):
        raise ValueError(f"unknown time zone {name!r}")
    return ZoneInfo(name)


def quarter_of(key_us: int) -> int:
    """UTC quarter hours since the epoch of a key time."""
    return key_us // QUARTER_US


def _utc(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _local(moment_us: int, tz: ZoneInfo) -> datetime:
    """The zone's clock at an instant, as a datetime with the fixed offset of that instant."""
    local = _utc(moment_us).astimezone(tz)
    return local.replace(tzinfo=timezone(local.utcoffset()))


def day_start(name: str, day: date) -> int:
    """The first instant (microseconds, UTC) whose local date is `day` or later: local midnight."""
    tz = zone(name)
    naive = datetime(day.year, day.month, day.day)
    early = _us(naive.replace(tzinfo=tz, fold=1).astimezone(UTC))
    late = _us(naive.replace(tzinfo=tz, fold=0).astimezone(UTC))
    low, high = min(early, late), max(early, late)
    if _local(low, tz).replace(tzinfo=None) >= naive:
        return low
    # Midnight falls in a gap: the day starts at the transition, found among the quarters between.
    low = -(-low // QUARTER_US) * QUARTER_US
    while _local(low, tz).replace(tzinfo=None) < naive and low < high:
        low += QUARTER_US
    return low


def _aligned(name: str, at_us: int, local: datetime) -> None:
    if at_us % QUARTER_US or local.utcoffset() % _QUARTER:
        raise NotQuarterAligned(name, at_us)


def _day_buckets(name: str, start_us: int, end_us: int) -> list[Bucket]:
    tz = zone(name)
    day = _local(start_us, tz).date()
    begin = day_start(name, day)
    buckets = []
    while begin < end_us:
        following = day + timedelta(days=1)
        finish = day_start(name, following)
        local = _local(begin, tz)
        _aligned(name, begin, local)
        buckets.append(Bucket(begin, finish, local))
        day, begin = following, finish
    return buckets


def _hour_buckets(name: str, start_us: int, end_us: int) -> list[Bucket]:
    """Walks the UTC quarters: a bucket starts where the local (date, hour, offset) changes. Each
    change is checked to happen at the quarter's first instant, not inside it."""
    tz = zone(name)
    at = quarter_of(start_us) * QUARTER_US
    local = _local(at, tz)
    key = (local.date(), local.hour, local.utcoffset())
    # Back up to the first quarter of the bucket holding start_us.
    while True:
        before = _local(at - QUARTER_US, tz)
        if (before.date(), before.hour, before.utcoffset()) != key:
            break
        at -= QUARTER_US
    begin, first_local = at, _local(at, tz)
    _aligned(name, begin, first_local)
    buckets = []
    while begin < end_us:
        at = begin + QUARTER_US
        while True:
            local = _local(at, tz)
            if (local.date(), local.hour, local.utcoffset()) != key:
                break
            at += QUARTER_US
        if _local(at - 1, tz).utcoffset() != first_local.utcoffset():
            raise NotQuarterAligned(name, at)
        _aligned(name, at, local)
        buckets.append(Bucket(begin, at, first_local))
        begin, first_local, key = at, local, (local.date(), local.hour, local.utcoffset())
    return buckets


def local_buckets(name: str, interval: str, start_us: int, end_us: int) -> list[Bucket]:
    """The local buckets (`interval` "hour" or "day") of zone `name` that meet [start_us, end_us),
    in order: the first holds start_us (so the range is floored to a bucket), the last holds
    end_us - 1 (ceiled). Each is a `Bucket(utc_start, utc_end, local_start)`; consecutive
    buckets touch. Raises ValueError for an unknown zone or interval, and NotQuarterAligned
    when a boundary is off the UTC quarter hours (some zones before 1980)."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}")
    if start_us >= end_us:
        return []
    return (_hour_buckets if interval == "hour" else _day_buckets)(name, start_us, end_us)
