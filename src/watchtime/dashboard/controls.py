"""The pages' controls: a page's query string (range, interval, time zone, definitions, ranking) read into
the queries the API answers, with any unusable value reported in words and replaced by its default."""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from watchtime.rule import zones

PRESETS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", "custom": "Custom"}
DAYS = {"7d": 7, "30d": 30, "90d": 90}
INTERVALS = {"hour": "Hour", "day": "Day"}
RANKINGS = {"watch_time": "Watch time", "viewers": "Viewers", "views": "Views", "completions": "Completions"}
ZONES = sorted(name for name in zoneinfo.available_timezones() if zones.is_zone(name))  # the picker's list


def default_time_zone() -> str:
    return settings.WATCHTIME_TIME_ZONE


@dataclass
class Controls:
    preset: str = "30d"
    interval: str = "day"
    tz: str = field(default_factory=default_time_zone)
    start: date | datetime | None = None
    end: date | datetime | None = None
    by: str = "watch_time"
    min_view_seconds: int | None = None
    completion_ratio: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def last(self) -> date | datetime | None:
        """The last day a custom range shows (its `end` is the day after)."""
        return self.end - timedelta(days=1) if self.preset == "custom" else self.end

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.tz)

    def range_query(self) -> dict:
        return {"from": _text(self.start), "to": _text(self.end), "tz": self.tz}

    def series_query(self) -> dict:
        return {**self.range_query(), "interval": self.interval}

    def definitions_query(self) -> dict:
        return {"min_view_seconds": self.min_view_seconds, "completion_ratio": self.completion_ratio}

    def days_query(self) -> dict:
        """Whole days covering the range (top movies rank over whole days)."""
        start = self.start.date() if isinstance(self.start, datetime) else self.start
        end = self.end.date() + timedelta(days=1) if isinstance(self.end, datetime) else self.end
        return {**self.range_query(), "from": _text(start), "to": _text(end)}

    def page_query(self, **changes) -> dict:
        """This page's own query string (for links and CSV downloads), with `changes`."""
        query = {"range": self.preset, "interval": self.interval, "tz": self.tz, "by": self.by,
                 **self.definitions_query()}
        if self.preset == "custom":
            query.update({"from": _text(self.start), "to": _text(self.last)})
        return {k: v for k, v in {**query, **changes}.items() if v is not None}


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value.isoformat()


def read(params, now: datetime | None = None) -> Controls:
    now = now or timezone.now()
    controls = Controls()
    controls.preset = _choice(params, "range", PRESETS, controls.preset, controls.problems)
    controls.interval = _choice(params, "interval", INTERVALS, "hour" if controls.preset == "24h" else "day",
                                controls.problems)
    controls.by = _choice(params, "by", RANKINGS, controls.by, controls.problems)
    tz = params.get("tz") or controls.tz
    if zones.is_zone(tz):
        controls.tz = tz
    else:
        controls.problems.append(f"“{tz}” is not a time zone name (such as Europe/Paris); showing {controls.tz}.")
    today = now.astimezone(controls.zone).date()
    if controls.preset == "24h":
        controls.start, controls.end = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0), now
    elif controls.preset == "custom":
        controls.start, controls.end = _dates(params, today, controls.problems)
    else:
        controls.start, controls.end = today - timedelta(days=DAYS[controls.preset] - 1), today + timedelta(days=1)
    controls.min_view_seconds = _number(params, "min_view_seconds", int, 0, 86400, controls.problems)
    controls.completion_ratio = _number(params, "completion_ratio", float, 0.0, 1.0, controls.problems)
    return controls


def _choice(params, name: str, choices: dict, default: str, problems: list) -> str:
    value = params.get(name) or default
    if value not in choices:
        problems.append(f"{name} must be one of {', '.join(choices)}; showing {default}.")
        return default
    return value


def _dates(params, today: date, problems: list) -> tuple[date, date]:
    try:
        start = date.fromisoformat(params.get("from") or (today - timedelta(days=29)).isoformat())
        last = date.fromisoformat(params.get("to") or today.isoformat())
    except ValueError:
        problems.append("From and to must be dates (YYYY-MM-DD); showing the last 30 days.")
        return today - timedelta(days=29), today + timedelta(days=1)
    if last < start:
        problems.append("The range ends before it starts; showing the days between them.")
        start, last = last, start
    return start, last + timedelta(days=1)  # `to` is the last day shown, inclusive


def _number(params, name: str, kind, low, high, problems: list):
    text = params.get(name)
    if text in (None, ""):
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        problems.append(f"{name} must be a number from {low} to {high}; using the configured definition.")
        return None
    return value
