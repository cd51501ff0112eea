"""A page's query string read into the API's queries: presets, custom ranges, time zones, definitions, and every
unusable value reported in words and replaced by its default."""

from datetime import UTC, date, datetime

import pytest

from watchtime.dashboard import controls

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _utc_default(settings):
    settings.WATCHTIME_TIME_ZONE = "UTC"


def test_the_default_is_the_last_30_days_by_day_in_the_configured_zone():
    read = controls.read({}, now=NOW)
    assert (read.preset, read.interval, read.tz, read.by, read.problems) == ("30d", "day", "UTC", "watch_time", [])
    assert read.series_query() == {"from": "2026-02-09", "to": "2026-03-11", "tz": "UTC", "interval": "day"}
    assert read.definitions_query() == {"min_view_seconds": None, "completion_ratio": None}


def test_the_last_24_hours_go_by_hour_from_the_hour_a_day_ago():
    read = controls.read({"range": "24h"}, now=NOW)
    assert read.series_query() == {"from": "2026-03-09T15:00:00Z", "to": "2026-03-10T15:30:00Z", "tz": "UTC",
                                   "interval": "hour"}
    assert read.days_query() == {"from": "2026-03-09", "to": "2026-03-11", "tz": "UTC"}  # top movies: whole days


def test_a_custom_range_includes_its_last_day_and_round_trips_through_the_page_query():
    read = controls.read({"range": "custom", "from": "2026-01-05", "to": "2026-01-07"}, now=NOW)
    assert (read.start, read.end, read.last) == (date(2026, 1, 5), date(2026, 1, 8), date(2026, 1, 7))
    again = controls.read(read.page_query(), now=NOW)
    assert (again.start, again.end) == (read.start, read.end)


def test_a_reversed_custom_range_is_swapped_and_said_so():
    read = controls.read({"range": "custom", "from": "2026-01-07", "to": "2026-01-05"}, now=NOW)
    assert (read.start, read.end) == (date(2026, 1, 5), date(2026, 1, 8))
    assert read.problems == ["The range ends before it starts; showing the days between them."]


@pytest.mark.parametrize(("params", "problem"), [
    ({"tz": "Mars/Olympus"}, "“Mars/Olympus” is not a time zone name (such as Europe/Paris); showing UTC."),
    ({"range": "1y"}, "range must be one of 24h, 7d, 30d, 90d, custom; showing 30d."),
    ({"by": "likes"}, "by must be one of watch_time, viewers, views, completions; showing watch_time."),
    ({"min_view_seconds": "-1"}, "min_view_seconds must be a number from 0 to 86400; using the configured definition."),
    ({"completion_ratio": "x"}, "completion_ratio must be a number from 0.0 to 1.0; using the configured definition."),
    ({"range": "custom", "from": "yesterday"}, "From and to must be dates (YYYY-MM-DD); showing the last 30 days."),
])
def test_an_unusable_value_is_reported_in_words_and_defaulted(params, problem):
    assert controls.read(params, now=NOW).problems == [problem]


def test_the_days_of_a_preset_are_the_time_zones():
    # 15:30 UTC on 10 March is already 11 March in Kiritimati (UTC+14): its last 7 days end with the 11th.
    read = controls.read({"range": "7d", "tz": "Pacific/Kiritimati"}, now=NOW)
    assert read.series_query() == {"from": "2026-03-05", "to": "2026-03-12", "tz": "Pacific/Kiritimati", "interval": "day"}


def test_the_definitions_and_a_time_zone_are_passed_on():
    read = controls.read({"tz": "Europe/Paris", "min_view_seconds": "30", "completion_ratio": "0.5"}, now=NOW)
    assert read.definitions_query() == {"min_view_seconds": 30, "completion_ratio": 0.5}
    assert read.zone.key == "Europe/Paris"
    assert read.page_query()["tz"] == "Europe/Paris"
