"""The premiere bench's workload: one movie, every stream joining within five minutes, each stream's
heartbeats in order, some without a wall clock; and its table."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from bench.premiere import markdown, premiere_events

pytestmark = pytest.mark.unit  # no services, no processes

START = datetime(2026, 11, 1, 19, 55, tzinfo=UTC)


def test_the_workload_is_one_movie_joined_within_five_minutes():
    events = premiere_events(random.Random(1), streams=50, minutes=10, start=START)
    assert {e.slug for e in events} == {"premiere"}
    by_stream: dict = {}
    for e in events:
        by_stream.setdefault((e.user, e.session), []).append(e)
    assert len(by_stream) == 50
    for stream in by_stream.values():
        assert START <= stream[0].received_at < START + timedelta(minutes=5, seconds=1)
        assert [e.received_at for e in stream] == sorted(e.received_at for e in stream)
    assert any(e.ts is None for e in events) and any(e.ts is not None for e in events)


def test_the_table_lists_the_reads_and_every_minute():
    result = {"streams": 2, "finished": "2026-12-07T00:00:00+00:00", "events": 10, "late": 1, "batch": 500, "exact": True,
              "peak": {"viewers": 2, "at": "2026-12-06T15:02:00Z"},
              "apply": {"apply_cpu_us_per_event": 150.0, "wal_bytes_per_event": 2900.0},
              "read_p50_ms": {"minute series, movie, 48 h": 7.7},
              "series": [["2026-12-06T15:01:00Z", 1], ["2026-12-06T15:02:00Z", 2]]}
    text = markdown(result)
    assert "| minute series, movie, 48 h | 7.7 |" in text
    assert "| 15:01 | 1 |" in text and "| 15:02 | 2 |" in text and "**2** concurrent viewers" in text
