"""The arithmetic of issue 22's figures, on known inputs (nothing timed): cost targets as ratios
to a floor's cost, events per message, the capacity model on grouped messages (and on an old
results file), the bench cluster's WAL compression and the sweep's table."""

import types

import pytest

from bench import capacity, cost, results
from bench.sections import ingest


def test_a_cost_is_judged_against_at_most_a_ratio_of_its_floor():
    cheap = results.figure("API CPU", [900.0, 1100.0, 1000.0], "µs/request", raw_limit=500, max_ratio=2)
    assert (cheap.value, cheap.ratio_to_raw, cheap.met, cheap.target) == (1000.0, 2.0, True, "<= 2 x raw")
    dear = results.figure("API CPU", [1200.0], "µs/request", raw_limit=500, max_ratio=2)
    assert (dear.ratio_to_raw, dear.met) == (2.4, False)
    assert results.figure("API CPU", [1200.0], "µs/request", max_ratio=2).met is None  # floor not measured
    worst = results.figure("API CPU", [900.0, 1200.0], "µs/request", raw_limit=500, max_ratio=2, worst=True)
    assert (worst.value, worst.met) == (1200.0, False)  # the worst of a cost is its largest


class _Bench:
    def __init__(self):
        self.figures, self.costs = [], {}

    def add(self, fig):
        self.figures.append(fig)
        return fig


def test_cost_figures_carry_the_targets_of_their_group():
    b = _Bench()
    meter = cost.Meter(None)
    meter.cpu, meter.wal = {"API workers": 1.0, "RabbitMQ": 0.04}, 0
    per = cost.add(b, "single-event POST /", meter, 1000, "request", setup="16 connections", targets={
        "API workers": {"raw_limit": 500.0, "max_ratio": 2}, "RabbitMQ": {"at_most": 50}})
    assert per == {"API workers cpu": 1000.0, "RabbitMQ cpu": 40.0}
    api, rabbitmq = b.figures
    assert api.name == "cost per request, single-event POST /: API workers CPU" and api.unit == "µs/request"
    assert (api.ratio_to_raw, api.met) == (2.0, True) and api.setup.endswith("; 16 connections")
    assert (rabbitmq.value, rabbitmq.target, rabbitmq.met) == (40.0, "<= 50", True)
    meter.cpu, meter.wal = {"consumers": 0.1, "PostgreSQL": 0.1}, 1_200_000
    cost.add(b, "grouped", meter, 1000, "event", targets={"WAL": {"at_most": 1000}})
    assert (b.figures[-1].name, b.figures[-1].met) == ("cost per event, grouped: WAL", False)
    assert b.figures[-2].met is None  # no target for PostgreSQL's CPU alone


def test_events_per_message_from_requests_and_messages_published():
    assert ingest.events_per_message(1000, 125) == 8.0
    assert ingest.events_per_message(10, 0) is None
    loads = [types.SimpleNamespace(requests=n) for n in (900, 0, 1200)]
    assert ingest.group_sizes(loads, [100, 0, 150]) == [9.0, 8.0]


def _figures(names, values):
    return [{"name": n, "value": v} for n, v in zip(names, values, strict=True)]


def test_capacity_model_on_grouped_messages_and_its_targets():
    from bench.core import GROUP_MESSAGE_EVENTS

    assert capacity.GROUP_MESSAGE_EVENTS == GROUP_MESSAGE_EVENTS  # the names the consumer section writes
    figures = _figures(capacity.INPUTS.values(), (900.0, 40.0, 100.0, 80.0, 900.0, 5000.0))
    assert capacity.source(figures) == "grouped"
    costs = capacity.inputs(figures)
    (row,) = capacity.model(costs, viewers=(1_000_000,))
    # 100,000 events/s at 60 %: (900 + 40 + 100 + 80) µs x 100,000 / 0.6 = 186.7 cores.
    assert row.cores == pytest.approx((900 + 40 + 100 + 80) * 0.1 / 0.6)
    assert row.one_primary and row.wal_mb_s == pytest.approx(90.0)
    (cores, cores_value, cores_target, _), (primary, limit, primary_target, setup) = capacity.targets(costs)
    assert cores == "capacity: cores in all at 1,000,000 viewers" and cores_value == pytest.approx(row.cores)
    assert cores_target == {"at_most": 150} and primary_target == {"at_least": 100_000}
    assert limit == pytest.approx(100e6 / 900) and "100 MB/s of WAL" in setup
    assert results.figure(cores, [cores_value], "cores", **cores_target).met is False
    table = capacity.markdown(costs)
    assert "| Cores in all |" in table and "on 10-event messages" in table


def test_capacity_model_reads_an_old_results_file():
    old = _figures(capacity.OLD_INPUTS.values(), (2906.0, 479.0, 307.0, 188.0, 2077.0, 1672.0))
    assert capacity.source(old) == "single-event messages (a run before group commit)"
    assert capacity.inputs(old)["wal"] == 2077.0
    both = old + _figures(capacity.INPUTS.values(), (900.0, 40.0, 100.0, 80.0, 900.0, 5000.0))
    assert capacity.inputs(both)["wal"] == 900.0  # the grouped inputs win
    assert "on single-event messages" in capacity.markdown(capacity.inputs(old), capacity.source(old))
    with pytest.raises(KeyError):
        capacity.source(old[1:])


def test_the_bench_cluster_compresses_its_wal_with_lz4_where_built_with_it():
    from bench import stack

    assert stack.wal_compression_method("'--with-lz4' '--with-zstd'") == "lz4"
    assert stack.wal_compression_method("'--with-zstd'") == "pglz"
    assert stack.server_settings()["wal_compression"] in ("lz4", "pglz")


def test_sweep_table_gives_the_ratios_to_the_bare_view():
    from bench import sweep

    row = {"threads": 8, "connections": 16, "group_ms": 5, "bare_rps": 3000.0, "bare_cpu_us": 500.0, "rps": 1500.0,
           "api_cpu_us": 1100.0, "rabbitmq_cpu_us": 45.0, "events_per_message": 7.5, "p50_ms": 6.0, "p99_ms": 20.0,
           "events_per_message_half": None}
    table = sweep.row_markdown([row])
    assert "| 8 | 16 | 5 ms | 3,000 | 500 | 1,500 | 0.50 | 1,100 | 2.20 | 45 | 7.5 | 6.0 / 20.0 | ? |" in table


def test_the_results_say_what_the_api_ran_with_and_what_the_environment_set():
    api = {"workers": 2, "threads": 32, "group_wait_ms": 10.0, "ingest_connections": 64, "set_by_environment": {}}
    text = results.markdown({"api": api}, [])
    assert "The API: gunicorn 2 workers x 32 threads, group commit wait 10 ms, single-event ingest over 64 connections." in text
    api["set_by_environment"] = {"GUNICORN_THREADS": "32"}
    assert "(set by the environment: GUNICORN_THREADS=32)." in results.markdown({"api": api}, [])
    assert "The API" not in results.markdown({}, [])  # an older results file
