"""Thin views of the concurrency history: concurrent viewers per minute, and peaks per local hour or
day, of a movie or of every movie."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from watchtime.analytics import concurrency, selectors
from watchtime.analytics.ranges import moment_range, zone_of
from watchtime.api.analytics.serializers import RANGE_HELP, RangeQuery, analytics_fields
from watchtime.api.analytics.views import BAD_QUERY, _query, _query_parameters
from watchtime.api.schema import COMMON_ERRORS, HEADERS, NOT_FOUND
from watchtime.db.router import replica_reads
from watchtime.definitions import definitions_from_settings
from watchtime.errors import DomainError
from watchtime.rule import zones
from watchtime.rule.concurrency import MINUTE_US, QUARTER_MINUTES
from watchtime.timestamps import from_us, to_us

MAX_MINUTES = 48 * 60
DEFAULT_MINUTES = 60
SPANS = {"hour": (48, 31 * 24), "day": (30, 366)}  # (default, most) buckets per request
HOUR_US = 3600 * 1_000_000
BUCKET_US = {"hour": HOUR_US, "day": 24 * HOUR_US}
EPOCH = date(1970, 1, 1)
CLOCK = [f"{h:02d}:{m:02d}:00" for h in range(24) for m in range(60)]  # a minute of the day, written


class ConcurrencyQuery(RangeQuery):
    interval = serializers.ChoiceField(choices=["minute", "hour", "day"], default="minute")


class MinuteOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    viewers = serializers.IntegerField(help_text="Streams playing during some part of the minute.")


class PeakOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    peak = serializers.IntegerField(help_text="The largest minute value in the bucket.")
    peak_at = serializers.DateTimeField(allow_null=True, help_text="The first minute reaching it; null when 0.")


def _output(name: str, bucket) -> type:
    return type(name, (serializers.Serializer,), {
        "interval": serializers.CharField(), "tz": serializers.CharField(),
        "from": serializers.DateTimeField(), "to": serializers.DateTimeField(), "results": bucket(many=True),
        **analytics_fields()})


MinuteSeriesOutput = _output("ConcurrencyMinutesOutput", MinuteOutput)
PeakSeriesOutput = _output("ConcurrencyPeaksOutput", PeakOutput)
OUTPUT = PolymorphicProxySerializer(component_name="ConcurrencyOutput", serializers=[MinuteSeriesOutput, PeakSeriesOutput],
                                    resource_type_field_name=None)
DOC = ("Concurrent viewers (streams playing, docs/analytics.md) of [from, to): `interval=minute` gives every UTC "
       f"minute (at most {MAX_MINUTES // 60} hours, within the last WATCHTIME_CONCURRENCY_MINUTE_DAYS days), `hour` and "
       "`day` the peak of each local hour or day of `tz` and the first minute reaching it; minute starts are written in `tz` "
       "too. " + RANGE_HELP)


def _local(us: int, zone: str) -> str:
    moment = from_us(us).astimezone(zones.zone(zone))
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _minute_starts(first: int, end: int, zone: str) -> list[str]:
    """The local start of every minute of [first, end), as `_local` writes it, a few µs each: the
    offset is looked up once per UTC quarter hour (offsets change only on quarter hours since 1980)."""
    tz, out, dates = zones.zone(zone), [], {}
    for quarter in range(first // QUARTER_MINUTES, -(-end // QUARTER_MINUTES)):
        offset = int(from_us(quarter * QUARTER_MINUTES * MINUTE_US).astimezone(tz).utcoffset().total_seconds())
        sign, magnitude = "-" if offset < 0 else "+", abs(offset)
        suffix = "Z" if offset == 0 else f"{sign}{magnitude // 3600:02d}:{magnitude % 3600 // 60:02d}"
        for minute in range(max(first, quarter * QUARTER_MINUTES), min(end, (quarter + 1) * QUARTER_MINUTES)):
            day, second = divmod(minute * 60 + offset, 86400)
            if day not in dates:
                dates[day] = (EPOCH + timedelta(days=day)).isoformat() + "T"
            out.append(dates[day] + CLOCK[second // 60] + suffix)
    return out


def _series(request, movie_id: int | None) -> Response:
    query = _query(ConcurrencyQuery, request)
    zone, interval = zone_of(query.get("tz")), query["interval"]
    start_us, end_us = moment_range(query.get("from"), query.get("to"), zone)
    now = timezone.now()
    end_us = end_us if end_us is not None else to_us(now)
    try:
        if interval == "minute":
            body = _minutes(movie_id, start_us, end_us, now, zone)
        else:
            body = _peaks(movie_id, interval, start_us, end_us, zone)
    except OverflowError:  # a bucket or its local time past the year 9999
        raise DomainError("invalid", "'from' and 'to' must lie between the years 1 and 9999.") from None
    # The body is plain values already (times formatted in the zone): the output serializers describe
    # it for the schema; running 2,880 minutes through them would cost more than the read itself.
    as_of = selectors.as_of()
    return Response({"interval": interval, "tz": zone, **body, "definitions": definitions_from_settings().as_dict(),
                     "as_of": serializers.DateTimeField().to_representation(as_of) if as_of else None})


def _minutes(movie_id, start_us, end_us, now: datetime, zone: str) -> dict:
    end = -(-end_us // MINUTE_US)
    first = start_us // MINUTE_US if start_us is not None else end - DEFAULT_MINUTES
    if first >= end:
        raise DomainError("invalid", "'from' must be before 'to'.")
    if end - first > MAX_MINUTES:
        raise DomainError("invalid", f"At most {MAX_MINUTES // 60} hours of minutes per query.")
    days = settings.WATCHTIME_CONCURRENCY_MINUTE_DAYS
    if first * MINUTE_US < to_us(now - timedelta(days=days)):
        raise DomainError("invalid", f"Minute values are kept {days} days (WATCHTIME_CONCURRENCY_MINUTE_DAYS); "
                          "ask interval=hour or interval=day for the peaks of older times.")
    rows = concurrency.minute_series(movie_id=movie_id, first_minute=first, end_minute=end)
    return {"from": _local(first * MINUTE_US, zone), "to": _local(end * MINUTE_US, zone),
            "results": [{"start": start, "viewers": viewers}
                        for start, (_, viewers) in zip(_minute_starts(first, end, zone), rows, strict=True)]}


def _peaks(movie_id, interval: str, start_us, end_us, zone: str) -> dict:
    default, most = SPANS[interval]
    start_us = start_us if start_us is not None else end_us - default * BUCKET_US[interval]
    if start_us >= end_us:
        raise DomainError("invalid", "'from' must be before 'to'.")
    if end_us - start_us > (most + 1) * BUCKET_US[interval]:  # the cheap bound first, the exact count below
        raise DomainError("invalid", f"At most {most} {interval}s per query.")
    try:
        buckets = zones.local_buckets(zone, interval, start_us, end_us)
    except ValueError as exc:  # a boundary off the UTC quarter hours (some zones before 1980)
        raise DomainError("invalid", f"The range cannot be cut into {interval}s of {zone}: {exc}") from None
    if len(buckets) > most:
        raise DomainError("invalid", f"At most {most} {interval}s per query.")
    rows = concurrency.peaks(movie_id=movie_id, buckets=[(b.utc_start, b.utc_end) for b in buckets])
    return {"from": _local(buckets[0].utc_start, zone), "to": _local(buckets[-1].utc_end, zone),
            "results": [{"start": _local(b.utc_start, zone), "peak": peak,
                         "peak_at": _local(at, zone) if at is not None else None}
                        for b, (peak, at) in zip(buckets, rows, strict=True)]}


class MovieConcurrencyApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[*_query_parameters(ConcurrencyQuery), *HEADERS], description=DOC,
                   responses={200: OUTPUT, **BAD_QUERY, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, movie_pk: int):
        return _series(request, selectors.movie_of(movie_pk).pk)


class OverallConcurrencyApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[*_query_parameters(ConcurrencyQuery), *HEADERS], description=DOC,
                   responses={200: OUTPUT, **BAD_QUERY, **COMMON_ERRORS})
    @replica_reads
    def get(self, request):
        return _series(request, None)
