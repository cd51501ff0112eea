"""The bench's own arithmetic and output, on tiny inputs, so it cannot rot unnoticed.

Nothing here is timed: the load generator runs against a local stub server only to check its
framing and bookkeeping, and the percentile/quantile/result code is checked on known inputs.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import confirmed, diagnose, loadgen, results, scenarios, workload


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert loadgen.percentile(values, 50) == 50
    assert loadgen.percentile(values, 99) == 99
    assert loadgen.percentile(values, 100) == 100
    assert loadgen.percentile(values, 0) == 1
    assert loadgen.percentile([3.0, 1.0, 2.0], 50) == 2
    with pytest.raises(ValueError):
        loadgen.percentile([], 50)


def test_histogram_quantile_interpolates_within_the_bucket():
    before = {0.1: 0.0, 0.5: 0.0, 1.0: 0.0, float("inf"): 0.0}
    after = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert scenarios.histogram_quantile(0.5, before, after) == pytest.approx(0.1)
    assert scenarios.histogram_quantile(0.7, before, after) == pytest.approx(0.3)
    assert scenarios.histogram_quantile(0.99, before, after) == pytest.approx(0.95)
    # Only the increase between the two scrapes counts.
    assert scenarios.histogram_quantile(0.5, after, {k: v * 2 for k, v in after.items()}) == pytest.approx(0.1)


def test_figures_are_judged_and_written(tmp_path):
    faster = results.figure("consumer", [3.0, 1.0, 2.0], "events/s", at_least=2, raw_limit=4)
    assert (faster.value, faster.target, faster.met, faster.ratio_to_raw) == (2.0, ">= 2", True, 0.5)
    slower = results.figure("p99", [30.0, 20.0, 40.0], "ms", at_most=25)
    assert (slower.value, slower.met) == (30.0, False)
    context = results.figure("raw", [5.0], "msg/s")
    assert (context.target, context.met, context.ratio_to_raw) == ("", None, None)

    json_path, md_path = results.write(tmp_path, {"cpu_count": 2, "repeats": 3}, [faster, slower, context])
    payload = json.loads(json_path.read_text())
    assert payload["machine"]["cpu_count"] == 2
    assert [f["name"] for f in payload["figures"]] == ["consumer", "p99", "raw"]
    for fig in payload["figures"]:
        assert {"name", "value", "unit", "target", "met", "raw_limit", "ratio_to_raw"} <= fig.keys()
    table = md_path.read_text().splitlines()
    assert table[2].startswith("| Figure | Value | Unit | Target | Met | Raw limit | Ratio to raw |")
    assert "| p99 | 30.00 | ms | <= 25 | **no** |" in md_path.read_text()
    assert len([line for line in table if line.startswith("| ") and "---" not in line]) == 4


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the service answers

    def do_GET(self):  # noqa: N802
        body = b'{"ok": true}'
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
            return
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_fixed_rate_generator_counts_every_answer(stub):
    host = f"127.0.0.1:{stub}"
    requests = [loadgen.build_request("GET", p, host=host) for p in ("/a", "/chunked", "/missing")]
    result = loadgen.fixed_rate("127.0.0.1", stub, requests, connections=2, duration=0.3, rate=200.0)
    assert result.requests == sum(result.statuses.values()) > 0
    assert result.statuses == {200: result.requests - result.statuses[404], 404: result.errors}
    assert result.requests <= 200.0 * 0.3 + 2  # at most one request per intended slot
    assert 0 <= result.percentiles[50] <= result.percentiles[99] <= result.percentiles[99.9]


def test_closed_loop_runs_wrk_over_the_prepared_requests(stub):
    host = f"127.0.0.1:{stub}"
    ok = [loadgen.build_request("GET", p, host=host) for p in ("/a", "/chunked")]
    result = loadgen.closed_loop("127.0.0.1", stub, ok, connections=2, duration=1)
    assert result.requests > 0 and result.errors == 0 and 0.9 < result.duration < 2
    assert 0 < result.percentiles[50] <= result.percentiles[99]
    # Every second request is a 404: wrk counts those answers as errors.
    mixed = loadgen.closed_loop(
        "127.0.0.1", stub, [ok[0], loadgen.build_request("GET", "/missing", host=host)], connections=1, duration=1
    )
    assert abs(mixed.errors - mixed.requests / 2) <= 1


def test_workload_streams_are_distinct_and_in_order():
    names = {workload.stream_names(i) for i in range(workload.STREAMS_PER_USER * 50)}
    assert len(names) == workload.STREAMS_PER_USER * 50  # every (user, movie) pair is distinct
    steps = workload.Steps()
    first = workload.events(20, streams=10, first_step=steps.take(20, 10))
    second = workload.events(20, streams=10, first_step=steps.take(20, 10))
    by_stream = {}
    for event in first + second:
        by_stream.setdefault((event["user"], event["slug"]), []).append(event["at"])
    assert all(ats == sorted(ats) and len(set(ats)) == len(ats) for ats in by_stream.values())
    payload = json.loads(workload.message(first[:3]))
    assert payload["v"] == 1 and len(payload["events"]) == 3


@pytest.mark.django_db
def test_read_dataset_totals_follow_the_rule():
    from django.db import connection

    from watchtime.accounting.audit.totals import totals_drift
    from watchtime.definitions import limits_from_settings

    shape = workload.build_read_dataset(connection, 500)
    assert shape["events"] == 500
    assert totals_drift(limits=limits_from_settings()) == []


@pytest.mark.django_db(transaction=True)
def test_read_dataset_analytics_follow_the_rule():
    from django.db import connection

    from watchtime.accounting.audit.analytics import analytics_drift
    from watchtime.analytics.models import MovieQuarter, View
    from watchtime.definitions import definitions_from_settings, limits_from_settings

    shape = workload.build_read_dataset(connection, 2000)
    assert workload.derive_analytics() == shape["streams"]  # one user-movie per stream
    assert analytics_drift(limits=limits_from_settings(), definitions=definitions_from_settings()) == []
    assert View.objects.count() == shape["streams"]
    # Spread over the month the analytics reads ask for, not one hour.
    assert len({q // 96 for q in MovieQuarter.objects.values_list("quarter", flat=True)}) >= 25


def test_targets_judge_the_worst_repeat_and_the_ratio_to_the_floor():
    worst = results.figure("p99", [10.0, 30.0, 20.0], "ms", at_most=25, worst=True)
    assert (worst.value, worst.met, worst.target) == (30.0, False, "<= 25 (worst of 3)")
    slowest = results.figure("rps", [10.0, 30.0, 20.0], "req/s", at_least=5, worst=True)
    assert (slowest.value, slowest.met) == (10.0, True)
    ratio = results.figure("reads", [700.0, 800.0, 900.0], "req/s", raw_limit=1000, min_ratio=0.75)
    assert (ratio.value, ratio.ratio_to_raw, ratio.met, ratio.target) == (800.0, 0.8, True, ">= 0.75 x raw")
    assert results.figure("reads", [700.0], "req/s", raw_limit=1000, min_ratio=0.75).met is False
    unknown = results.figure("reads", [700.0], "req/s", min_ratio=0.75)  # floor not measured (--only)
    assert (unknown.met, unknown.ratio_to_raw) == (None, None)
    both = results.figure("reads", [700.0], "req/s", at_least=800, raw_limit=100, min_ratio=0.75)
    assert both.met is False and both.target == ">= 800, >= 0.75 x raw"
    assert results.judged([]) is None and results.judged([True, None]) is None and results.judged([None, False]) is False
    assert "| reads | 700 | req/s | >= 0.75 x raw | ? |" in results.markdown({}, [unknown])


def test_diagnosis_names_queues_outcomes_and_the_event_log():
    samples = {
        'watchtime_events_processed_total{outcome="applied"}': 1999.0,
        'watchtime_events_processed_total{outcome="dead_lettered"}': 1.0,
        'watchtime_event_lag_seconds_bucket{le="0.1"}': 5.0,
    }
    assert diagnose.outcomes(samples) == {"applied": 1999, "dead_lettered": 1}
    listed = "watchtime-bench-7\t0\t12\nwatchtime-bench-7.dead-letter\t1\t0\nother\t5\t5\n"
    queues = diagnose.parse_list_queues(listed, "watchtime-bench-7")
    assert queues == {"watchtime-bench-7": (0, 12), "watchtime-bench-7.dead-letter": (1, 0)}
    text = diagnose.text(queues={**queues, "q": (3, None)}, consumers={9100: {"applied": 1999, "dead_lettered": 1},
                         9101: "URLError: refused"}, event_log=1999)
    assert "queue watchtime-bench-7: 0 ready, 12 unacked" in text
    assert "queue watchtime-bench-7.dead-letter: 1 ready, 0 unacked" in text and "q: 3 ready, ? unacked" in text
    assert "consumer :9100: applied 1999, dead_lettered 1" in text and "consumer :9101: metrics unreadable" in text
    assert "event log: 1999 rows" in text
    ticks = iter([0, 0, 0])
    with pytest.raises(diagnose.Stalled, match="(?s)the thing: not within 0 s.*event log: 3 rows"):
        diagnose.wait_for(lambda: next(ticks, 0), timeout=0, what="the thing", interval=0,
                          diagnose=lambda: diagnose.text(queues={}, consumers={}, event_log=3))
    assert diagnose.wait_for(lambda: 7, timeout=0, what="x", diagnose=str) == 7


class _FakeChannel:
    def __init__(self):
        self.published = []

    def basic_publish(self, exchange, queue, body, props, mandatory):
        self.published.append(body)


class _FakeConnection:
    closed = False

    def close(self):
        self.closed = True


def _ack(tag, multiple=False, nack=False):
    import types

    import pika

    method = pika.spec.Basic.Nack(delivery_tag=tag, multiple=multiple) if nack else pika.spec.Basic.Ack(delivery_tag=tag, multiple=multiple)
    return types.SimpleNamespace(method=method)


def test_confirmed_publisher_settles_batched_confirms_and_republishes_nacks():
    bodies = [b"m%d" % i for i in range(10)]
    run = confirmed._Run("q", len(bodies), bodies.__getitem__, window=4, rate=None)
    run.channel, run.connection = _FakeChannel(), _FakeConnection()
    run._pump()
    assert run.channel.published == bodies[:4]  # the window
    run._on_confirm(_ack(3, multiple=True))  # tags 1..3 at once
    assert run.confirmed == 3 and run.channel.published[4:] == bodies[4:7]
    run._on_confirm(_ack(5, nack=True))  # one nacked: published again
    assert run.nacked == 1 and run.channel.published[-1] == bodies[4]
    run._on_confirm(_ack(4))  # a single ack below a gap
    run._on_confirm(_ack(run.tag, multiple=True))  # everything else handed over so far
    while not run.done():
        run._on_confirm(_ack(run.tag, multiple=True))
    assert run.confirmed == 10 and run.connection.closed
    assert sorted(set(run.channel.published)) == sorted(bodies)
    assert "10 of 10 confirmed, 0 awaiting a confirm, 1 nacked" in run.progress()


def test_costs_are_per_unit_and_wal_only_with_the_database():
    import os

    from bench import cost

    assert cost.cpu_seconds(os.getpid()) > 0 and cost.cpu_seconds(2**22 + 7) == 0.0  # gone: nothing
    meter = cost.Meter(None)
    meter.cpu, meter.wal = {"consumers": 0.5, "PostgreSQL": 0.25}, 3_000_000
    assert meter.per(1000) == {"consumers cpu": 500.0, "PostgreSQL cpu": 250.0, "wal": 3000.0}
    meter.cpu = {"API workers": 1.0}
    assert meter.per(1000) == {"API workers cpu": 1000.0}


def test_a_group_keeps_the_cpu_of_a_child_that_exited_within_the_block():
    """A backend that exits while measured keeps its share (summing the live ones once gave
    PostgreSQL a negative cost): the kernel adds a reaped child's time to its parent's."""
    import os
    import subprocess
    import sys

    from bench import cost

    group = cost.tree(os.getpid, with_parent=False)
    before = group()
    child = subprocess.run([sys.executable, "-c", "import time; end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"],
                           check=True)
    assert child.returncode == 0
    assert group() - before >= 0.25  # the exited child's 0.3 s, from this process's reaped time


def test_capacity_model_scales_the_measured_costs():
    from bench import capacity

    figures = [{"name": name, "value": value} for name, value in zip(
        capacity.INPUTS.values(), (1200.0, 300.0, 250.0, 100.0, 2000.0, 3000.0), strict=True)]
    costs = capacity.inputs(figures)
    small, medium, large = capacity.model(costs)
    assert (small.viewers, small.rate) == (10_000, 1000)
    assert small.api_cores == pytest.approx(1000 * 1200e-6 / 0.6)  # 2 cores: one pod
    assert small.api_pods == 1 and medium.api_pods == 10
    assert small.consumer_processes == 1 and medium.consumer_processes == 6  # 10,000 / (3000 x 0.6)
    assert small.wal_mb_s == pytest.approx(2.0) and large.wal_mb_s == pytest.approx(200.0)
    assert small.one_primary and medium.one_primary and not large.one_primary
    limit, by = capacity.primary_limit(costs)
    assert by == "100 MB/s of WAL" and limit == pytest.approx(50_000)
    table = capacity.markdown(costs)
    assert "| 1,000,000 | 100,000 | 200.0 (100) |" in table and "**no** |" in table
    with pytest.raises(KeyError):
        capacity.inputs(figures[1:])


@pytest.mark.django_db(transaction=True)
def test_every_analytics_read_of_the_bench_answers_on_the_read_dataset(client_all):
    """The reads section's paths, concurrency ones included (minutes of the dataset's last days,
    peaks over its month, older minutes folded as maintain leaves them), and its dashboard pages answer 200."""
    from django.db import connection

    from bench.sections import reads
    from watchtime.events.models import CustomUser, WatchTime

    workload.build_read_dataset(connection, 2000)
    workload.derive_analytics()
    reads.fold_as_maintain()
    user_id, movie_id = WatchTime.objects.values_list("user_id", "movie_id").first()
    username = CustomUser.objects.get(pk=user_id).username
    with reads.minute_window():
        for name, make in reads.ANALYTICS.items():
            response = client_all.get(make(username, movie_id))
            assert response.status_code == 200, (name, response.content[:300])
    peaks = client_all.get(reads.ANALYTICS["concurrency daily peaks, overall, 30 days"]("", 0)).json()["results"]
    assert len(peaks) == 30 and all(day["peak"] > 0 for day in peaks)
    dashboard = reads._dashboard_client()  # and the dashboard's pages (issue 25), signed in
    for name, make in reads.DASHBOARD.items():
        page = dashboard.get(make(username, movie_id))
        assert page.status_code == 200 and b"could not be shown" not in page.content, name
