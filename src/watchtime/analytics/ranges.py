"""Time ranges of analytics queries in a time zone: the zone (`tz`), parsing `from`/`to`, flooring
and ceiling them to the zone's local hours or days (rule.zones), the defaults and the limits, and
refusing a range that history kept by UTC hour cannot answer exactly in that zone."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from django.conf import settings

from watchtime.analytics.models import QuarterGrain
from watchtime.errors import DomainError
from watchtime.rule import zones
from watchtime.rule.attribution import DAY_US, HOUR_US
from watchtime.timestamps import from_us, parse_rfc3339, to_us

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)


@dataclass(frozen=True)
class Interval:
    name: str
    bucket_us: int  # nominal: local days run 23 to 25 hours
    default_span: int  # buckets
    max_span: int  # buckets


HOUR = Interval("hour", HOUR_US, 48, 31 * 24)
DAY = Interval("day", DAY_US, 30, 366)
INTERVALS = {i.name: i for i in (HOUR, DAY)}


@dataclass(frozen=True)
class Range:
    """Whole local buckets of `interval` in zone `tz`, oldest first."""

    interval: Interval
    tz: str
    buckets: list[zones.Bucket]

    @property
    def start_us(self) -> int:
        return self.buckets[0].utc_start

    @property
    def end_us(self) -> int:
        return self.buckets[-1].utc_end

    @property
    def first_quarter(self) -> int:
        return zones.quarter_of(self.start_us)

    @property
    def end_quarter(self) -> int:
        return zones.quarter_of(self.end_us)

    @property
    def start_time(self) -> datetime:
        return self.buckets[0].local_start

    @property
    def end_time(self) -> datetime:
        return local_time(self.end_us, self.tz)

    def starts(self) -> list[int]:
        """Each bucket's first quarter."""
        return [zones.quarter_of(b.utc_start) for b in self.buckets]


def local_time(moment_us: int | None, tz: str) -> datetime | None:
    """The instant on the zone's clock, with the zone's offset at that instant."""
    if moment_us is None:
        return None
    local = from_us(moment_us).astimezone(zones.zone(tz))
    return local.replace(tzinfo=timezone(local.utcoffset()))


def zone_of(raw: str | None) -> str:
    """The request's zone (default WATCHTIME_TIME_ZONE); 400 for a name the tz database lacks."""
    name = settings.WATCHTIME_TIME_ZONE if raw is None else raw
    if not zones.is_zone(name):
        raise DomainError("invalid", "'tz' must be an IANA time zone name, such as Asia/Kathmandu.", details={"tz": [name[:100]]})
    return name


def parse_moment(name: str, raw: str | None, tz: str = "UTC") -> int | None:
    """Microseconds since the epoch of an RFC 3339 date-time, or of a YYYY-MM-DD date's local
    midnight in zone `tz`."""
    if raw is None:
        return None
    moment = parse_rfc3339(raw)
    if moment is not None:
        return to_us(moment)
    if DATE_RE.match(raw):
        try:
            return zones.day_start(tz, date.fromisoformat(raw))
        except (ValueError, OverflowError):
            pass
    raise DomainError("invalid", f"'{name}' must be an RFC 3339 date-time or a YYYY-MM-DD date.", details={name: [raw[:100]]})


def moment_range(raw_from: str | None, raw_to: str | None, tz: str = "UTC") -> tuple[int | None, int | None]:
    """`from` and `to` as given, either may be absent (an open end); refuses from >= to."""
    start_us, end_us = parse_moment("from", raw_from, tz), parse_moment("to", raw_to, tz)
    if start_us is not None and end_us is not None and start_us >= end_us:
        raise DomainError("invalid", "'from' must be before 'to'.")
    return start_us, end_us


def bucket_range(interval: Interval, raw_from: str | None, raw_to: str | None, *, now: datetime, tz: str) -> Range:
    """`from` floored and `to` ceiled to whole local buckets; by default the last `default_span`
    buckets up to now. Refuses an empty range, one over `max_span` buckets, and one that history
    kept by UTC hour cannot answer exactly in this zone."""
    start_us, end_us = parse_moment("from", raw_from, tz), parse_moment("to", raw_to, tz)
    end_us = end_us if end_us is not None else to_us(now)
    default = start_us is None
    if default:
        start_us = end_us - (interval.default_span + 2) * interval.bucket_us
    if start_us >= end_us:
        raise DomainError("invalid", "'from' must be before 'to'.")
    if end_us - start_us > (interval.max_span + 2) * interval.bucket_us:
        raise DomainError("invalid", f"At most {interval.max_span} {interval.name}s per query.")
    try:
        buckets = zones.local_buckets(tz, interval.name, start_us, end_us)
        buckets = buckets[-interval.default_span:] if default else buckets
        local_time(buckets[-1].utc_end, tz)
    except zones.NotQuarterAligned as exc:  # some zones before 1980
        raise DomainError("invalid", f"{tz} is not answerable there: {exc}.", details={"tz": [tz]}) from None
    except OverflowError:
        raise DomainError("invalid", "'from' and 'to' must lie between the years 1 and 9999.") from None
    if len(buckets) > interval.max_span:
        raise DomainError("invalid", f"At most {interval.max_span} {interval.name}s per query.")
    span = Range(interval, tz, buckets)
    _refuse_hourly_history(span)
    return span


def hourly_history_before_us() -> int | None:
    """Before this instant the quarters hold whole UTC hours (QuarterGrain); None: none do."""
    return QuarterGrain.objects.values_list("hours_before_us", flat=True).first()


def _refuse_hourly_history(span: Range) -> None:
    """Before QuarterGrain.hours_before_us a quarter holds its whole hour: a range is exact there
    only if every bucket boundary before it is a whole UTC hour."""
    hours_before = hourly_history_before_us()
    if hours_before is None or span.start_us >= hours_before:
        return
    boundaries = [b.utc_start for b in span.buckets] + [span.end_us]
    if all(b % HOUR_US == 0 for b in boundaries if b < hours_before):
        return
    earliest = earliest_answerable(span.tz, span.interval, hours_before)
    raise DomainError(
        "invalid",
        f"History before {from_us(hours_before).isoformat()} is kept by UTC hour; in {span.tz} it is exact from "
        f"{earliest.isoformat()} on.",
        details={"from": [earliest.isoformat()], "earliest": earliest.isoformat()},
    )


def earliest_answerable(tz: str, interval: Interval, hours_before_us: int) -> datetime:
    """The first local bucket start of `tz` from which every boundary is exact."""
    first = zones.local_buckets(tz, interval.name, hours_before_us, hours_before_us + 1)[0]
    start = first.utc_start if first.utc_start % HOUR_US == 0 else first.utc_end
    return local_time(start, tz)
