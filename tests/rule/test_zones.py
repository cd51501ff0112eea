"""Local hours and days as UTC quarter-hour ranges, as worked tables: a 23- and a 25-hour day in
New York, Lord Howe's 30-minute buckets, Kathmandu's and Chatham's :45 offsets, and, over random
zones and instants, buckets that tile the range on quarter hours with the zone's own clock."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchtime.rule.zones import QUARTER_US, day_start, is_zone, local_buckets, quarter_of, zone


def us(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp()) * 1_000_000


def table(name: str, interval: str, start: str, end: str) -> list[tuple[str, float]]:
    """(local start, hours) per bucket."""
    return [(b.local_start.isoformat(), (b.utc_end - b.utc_start) / 3_600_000_000)
            for b in local_buckets(name, interval, us(start), us(end))]


def test_new_york_spring_forward_day_has_23_hours():
    assert table("America/New_York", "day", "2026-03-07T05:00:00Z", "2026-03-09T05:00:00Z") == [
        ("2026-03-07T00:00:00-05:00", 24.0), ("2026-03-08T00:00:00-05:00", 23.0), ("2026-03-09T00:00:00-04:00", 24.0)]


def test_new_york_fall_back_day_has_25_hours():
    assert table("America/New_York", "day", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z") == [
        ("2026-11-01T00:00:00-04:00", 25.0)]


def test_new_york_repeated_hour_comes_twice_and_skipped_hour_is_absent():
    assert table("America/New_York", "hour", "2026-11-01T05:00:00Z", "2026-11-01T08:00:00Z") == [
        ("2026-11-01T01:00:00-04:00", 1.0), ("2026-11-01T01:00:00-05:00", 1.0), ("2026-11-01T02:00:00-05:00", 1.0)]
    assert table("America/New_York", "hour", "2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z") == [
        ("2026-03-08T01:00:00-05:00", 1.0), ("2026-03-08T03:00:00-04:00", 1.0)]


def test_lord_howe_half_hour_changes_give_30_minute_buckets():
    assert table("Australia/Lord_Howe", "hour", "2026-10-03T14:30:00Z", "2026-10-03T17:00:00Z") == [
        ("2026-10-04T01:00:00+10:30", 1.0), ("2026-10-04T02:30:00+11:00", 0.5), ("2026-10-04T03:00:00+11:00", 1.0)]
    assert table("Australia/Lord_Howe", "hour", "2026-04-04T14:00:00Z", "2026-04-04T16:30:00Z") == [
        ("2026-04-05T01:00:00+11:00", 1.0), ("2026-04-05T01:30:00+10:30", 0.5), ("2026-04-05T02:00:00+10:30", 1.0)]
    days = table("Australia/Lord_Howe", "day", "2026-04-04T13:00:00Z", "2026-10-04T13:00:00Z")
    assert days[0] == ("2026-04-05T00:00:00+11:00", 24.5) and days[-1] == ("2026-10-04T00:00:00+10:30", 23.5)


def test_quarter_to_offsets_start_on_the_quarter():
    assert table("Asia/Kathmandu", "day", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == [
        ("2026-01-01T00:00:00+05:45", 24.0), ("2026-01-02T00:00:00+05:45", 24.0)]
    assert table("Pacific/Chatham", "hour", "2026-04-04T13:15:00Z", "2026-04-04T15:00:00Z") == [
        ("2026-04-05T03:00:00+13:45", 0.75), ("2026-04-05T02:45:00+12:45", 0.25), ("2026-04-05T03:00:00+12:45", 1.0)]


def test_range_is_floored_and_ceiled_to_buckets():
    [bucket] = local_buckets("Asia/Kathmandu", "hour", us("2026-01-01T00:20:00Z"), us("2026-01-01T00:21:00Z"))
    assert (bucket.utc_start, bucket.utc_end) == (us("2026-01-01T00:15:00Z"), us("2026-01-01T01:15:00Z"))
    assert local_buckets("UTC", "day", us("2026-01-01T00:00:00Z"), us("2026-01-01T00:00:00Z")) == []


def test_unknown_zones_and_intervals_are_refused():
    assert is_zone("Asia/Kathmandu") and is_zone("UTC")
    assert not is_zone("Mars/Olympus") and not is_zone("/etc/passwd") and not is_zone("asia/kathmandu")
    with pytest.raises(ValueError):
        zone("Mars/Olympus")
    with pytest.raises(ValueError):
        local_buckets("UTC", "week", 0, 1)


def test_day_start_of_a_skipped_midnight_is_the_transition():
    # America/Santiago springs forward at 24:00 -> 01:00: 2026-09-06 starts at 01:00 -04:00... its first instant.
    start = day_start("America/Santiago", date(2026, 9, 6))
    local = datetime.fromtimestamp(start / 1e6, UTC).astimezone(zone("America/Santiago"))
    assert local.date() == date(2026, 9, 6) and local.hour == 1 and local.minute == 0


ZONES = sorted(available_timezones())


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(ZONES), interval=st.sampled_from(["hour", "day"]),
       start=st.integers(us("1981-01-01T00:00:00Z") // QUARTER_US, us("2037-01-01T00:00:00Z") // QUARTER_US),
       quarters=st.integers(1, 400), seed=st.integers(0, 2**32))
def test_buckets_tile_the_range_and_hold_one_local_clock_each(name, interval, start, quarters, seed):
    start_us, end_us = start * QUARTER_US + 7, (start + quarters) * QUARTER_US
    buckets = local_buckets(name, interval, start_us, end_us)
    tz = zone(name)
    assert buckets[0].utc_start <= start_us < buckets[0].utc_end and buckets[-1].utc_start < end_us <= buckets[-1].utc_end
    for before, after in zip(buckets, buckets[1:], strict=False):
        assert before.utc_end == after.utc_start
    rng = random.Random(seed)
    for bucket in buckets:
        assert bucket.utc_start % QUARTER_US == 0 and bucket.utc_end % QUARTER_US == 0
        first = datetime.fromtimestamp(bucket.utc_start / 1e6, UTC).astimezone(tz)
        assert first.utcoffset() == bucket.local_start.utcoffset() and first.replace(tzinfo=None) == bucket.local_start.replace(tzinfo=None)
        inside = bucket.utc_start + rng.randrange(bucket.utc_end - bucket.utc_start)
        local = datetime.fromtimestamp(inside / 1e6, UTC).astimezone(tz)
        if interval == "day":
            assert local.date() == first.date()
            assert bucket.local_start.time() == datetime.min.time() or first.date() != (first - timedelta(microseconds=1)).date()
        else:
            assert (local.date(), local.hour, local.utcoffset()) == (first.date(), first.hour, first.utcoffset())
    assert quarter_of(buckets[0].utc_start) * QUARTER_US == buckets[0].utc_start
