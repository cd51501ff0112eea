"""The bench's own arithmetic and output, on tiny inputs, so it cannot rot unnoticed.

Nothing here is timed: the load generator runs against a local stub server only to check its
framing and bookkeeping, and the percentile/quantile/result code is checked on known inputs.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen, results, scenarios, workload


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

    from watchtime.events.definitions import limits_from_settings
    from watchtime.events.ledger import totals_drift

    shape = workload.build_read_dataset(connection, 500)
    assert shape["events"] == 500
    assert totals_drift(limits=limits_from_settings()) == []
