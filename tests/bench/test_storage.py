"""The storage soak's arithmetic: bytes per row from the growth between days, not from the fixed
cost of empty tables, and the projection from them."""

import pytest

from bench.storage import EVENTS_PER_VIEWER_DAY, GROUPS, DaySize, marginal_bytes, markdown, projection

pytestmark = pytest.mark.unit  # no services, no processes


def day(n: int, applied: int, **sizes: int) -> DaySize:
    return DaySize(n, applied, 0, {g: sizes.get(g.replace(" ", "_"), 0) for g in GROUPS}, 0)


def test_bytes_per_row_leave_out_the_fixed_cost_of_the_first_day():
    # 1000 events a day, 10 streams a day, retention 2 days: the log fills on days 1-2, then stays flat.
    fixed = 5_000_000  # empty partitions and indexes made ahead
    curve = [
        day(1, 1000, log=fixed + 400_000, event_ids=100_000, streams=50_000, views=fixed + 1_000),
        day(2, 2000, log=fixed + 800_000, event_ids=200_000, streams=53_000, views=fixed + 2_000, user_rollups=0,
            concurrency_runs=10_000),
        day(3, 3000, log=fixed + 800_000, event_ids=200_000, streams=56_000, views=fixed + 3_000, user_rollups=4_000),
        day(4, 4000, log=fixed + 800_000, event_ids=200_000, streams=59_000, views=fixed + 4_000, user_rollups=8_000,
            concurrency_runs=14_000),
    ]
    got = marginal_bytes(curve, retention_days=2, events_per_day=1000, streams_per_day=10)
    assert got == {"event": 400.0, "event id": 100.0, "stream": 300.0, "views and user rollups per stream": 500.0,
                   "concurrency runs per stream": 200.0}


def test_the_projection_scales_with_viewers_and_the_retention_window():
    per = {"event": 400.0, "event id": 100.0, "stream": 300.0, "views and user rollups per stream": 700.0}
    rows = projection(per, retention_days=30)
    assert [r["concurrent viewers"] for r in rows] == [10_000, 100_000, 1_000_000]
    first = rows[0]
    assert first["events per second"] == 1_000 and first["events per day"] == 10_000 * EVENTS_PER_VIEWER_DAY
    assert first["log per day (GB)"] == 10_000 * 8_640 * 500 / 1e9
    assert first["log at the retention window (GB)"] == first["log per day (GB)"] * 30
    assert first["kept figures per day (GB)"] == 10_000 * 24 * 1_000 / 1e9
    result = {"setup": {"days": 4, "retention_days": 2, "users": 3, "streams_per_day": 10,
                        "heartbeats_per_stream": 360, "movies": 200, "postgres": "15"},
              "bytes_per": per, "curve": [], "projection": rows}
    assert "| 1,000,000 | 100,000 | 8,640,000,000 |" in markdown(result)
