"""Where a prune can cut in tests: the first daily partition of the log, and one viewer's stream
around the midnight after it (a prune before that day leaves it the horizon)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection

from watchtime.events import partitions
from watchtime.events.models import Movie
from watchtime.events.validation import EventIn


def first_partitioned_day() -> date:
    """Keys from the first daily partition on, so that a prune drops whole partitions."""
    return max(p.day for p in partitions.existing(connection) if p.day) - timedelta(days=13)


@dataclass(frozen=True)
class StreamAtHorizon:
    day: date  # prune before it, and `midnight` is the horizon
    midnight: datetime
    beat: Callable[[int, float], EventIn]  # (position, seconds from midnight) -> alice's heartbeat on `heat`


def stream_at_horizon() -> StreamAtHorizon:
    """Movie `heat` (600 s) and alice's `tv` stream on it, keyed by wall clock around the midnight
    that starts the day after the first partitioned one."""
    day = first_partitioned_day() + timedelta(days=1)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    Movie.objects.create(slug="heat", title="heat", duration=600)

    def beat(at: int, seconds: float) -> EventIn:
        moment = midnight + timedelta(seconds=seconds)
        return EventIn(uuid.uuid4(), "alice", "heat", at, "tv", moment, moment)

    return StreamAtHorizon(day, midnight, beat)
