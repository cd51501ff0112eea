"""The apply-cost bench's workload and table: in-order heartbeats by time, every stream on its movie,
and one row per label and workload."""

import pytest

from bench.apply_cost import HEARTBEAT_S, changes, heartbeats, markdown, medians

pytestmark = pytest.mark.unit  # no services, no processes


def test_the_workload_is_in_order_by_time_and_spread_over_the_movies():
    events = heartbeats(streams=20, movies=4, per_stream=5)
    assert len(events) == 100
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    by_stream: dict = {}
    for e in events:
        by_stream.setdefault((e.user, e.session), []).append(e)
    assert len(by_stream) == 20
    for stream in by_stream.values():
        assert len({e.slug for e in stream}) == 1  # a stream watches one movie
        assert [e.at for e in stream] == [i * HEARTBEAT_S for i in range(5)]  # playing, in order
        assert [(b.ts - a.ts).total_seconds() for a, b in zip(stream, stream[1:])] == [HEARTBEAT_S] * 4
    assert {e.slug for e in events} == {"m0", "m1", "m2", "m3"}


def test_the_table_has_a_row_per_label_and_workload():
    figures = {"events": 1000, "apply_cpu_us": 101.4, "postgres_cpu_us": 70.0, "wal_bytes": 1752.4, "row_writes": 7.17,
               "cluster_wal_bytes": 4031.0}
    older = {"events": 1000, "apply_cpu_us": 101.4, "postgres_cpu_us": 70.0, "wal_bytes": 1752.4}  # before rows were counted
    text = markdown({"before": {"workloads": {"spread": older, "premiere": figures}},
                     "after": {"workloads": {"spread": figures}}})
    rows = [line for line in text.splitlines() if line.startswith("| before") or line.startswith("| after")]
    assert rows == ["| before | spread | 1,000 | 101 | 70 | 1,752 |  |", "| before | premiere | 1,000 | 101 | 70 | 1,752 (4,031) | 7.17 |",
                    "| after | spread | 1,000 | 101 | 70 | 1,752 (4,031) | 7.17 |"]


def test_repeated_runs_become_one_entry_of_medians():
    def run(cpu, wal):
        return {"workloads": {"spread": {"events": 10, "apply_cpu_us": cpu, "postgres_cpu_us": 1.0, "wal_bytes": wal}}}

    summary = medians({"before #1": run(100, 900), "before #2": run(140, 1000), "before #3": run(120, 2000),
                       "after #1": run(130, 950), "after #2": run(150, 990), "single": run(1, 2)})
    assert list(summary) == ["before", "after", "single"]
    assert summary["before"]["workloads"]["spread"] == {"events": 10, "apply_cpu_us": 120, "postgres_cpu_us": 1.0,
                                                        "wal_bytes": 1000, "runs": 3}
    assert summary["after"]["workloads"]["spread"]["apply_cpu_us"] == 140 and summary["single"]["workloads"]["spread"]["runs"] == 1
    assert "| before (median of 3) | spread |" in markdown(summary) and "| single | spread |" in markdown(summary)


def test_every_label_is_set_against_the_first():
    def entry(apply_cpu, pg_cpu, wal, rows):
        return {"workloads": {"spread": {"apply_cpu_us": apply_cpu, "postgres_cpu_us": pg_cpu, "wal_bytes": wal,
                                         "row_writes": rows}}}

    text = changes({"before": entry(100, 100, 1000, 8.0), "after": entry(120, 100, 1100, 10.0)})
    assert text.splitlines()[0] == "Against before:"
    assert "| after | spread | +10 % | +10 % | +25 % |" in text and "| before |" not in text
