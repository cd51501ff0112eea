"""Floors, measured in the same run with the product's gunicorn settings and the same load
generator: a bare Django view (its rate and its workers' CPU per request), plus a one-row read,
plus one confirmed publish (bench/floor_app.py)."""

import random
import sys
from pathlib import Path

from bench import cost, loadgen, scenarios
from bench.core import READ_CONNECTIONS, Bench
from bench.diagnose import wait_for
from bench.floor_app import FLOOR_ROWS, FLOOR_TABLE
from bench.results import figure
from bench.stack import http_ok
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def setup(connections: int) -> str:
    return (
        f"bench/floor_app.py under gunicorn with watchtime.gunicorn_conf ({scenarios.gunicorn_setup()}, access log on), "
        f"no middleware, JsonResponse; wrk, closed loop, {connections} keep-alive connections"
    )


class Floor:
    def __init__(self, b: Bench, **extra_env: str):
        """The floor app with the product's workers and threads, unless `extra_env` says otherwise."""
        self.stack = b.stack
        self.port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "--config", "python:watchtime.gunicorn_conf", "bench.floor_app:application"]
        env = {"WEB_CONCURRENCY": str(scenarios.api_workers()), "GUNICORN_THREADS": str(scenarios.api_threads()), **extra_env}
        self.process, _ = b.stack.start_command(
            argv, gunicorn=True, PORT=str(self.port), DJANGO_SETTINGS_MODULE="bench.floor_app",
            PYTHONPATH=f"{ROOT}:{b.stack.env.get('PYTHONPATH', '')}".rstrip(":"), **env,
        )
        wait_for(lambda: http_ok(f"http://127.0.0.1:{self.port}/bare") or self.process.poll() is not None,
                 timeout=60, what="the floor app to answer", diagnose=b.diagnosis)
        if self.process.poll() is not None:
            raise RuntimeError(f"the floor app exited: {self.process.stderr.read().decode()[-2000:]}")
        self.host = f"127.0.0.1:{self.port}"

    def load(self, requests: list[bytes], seconds: float, connections: int = READ_CONNECTIONS) -> loadgen.LoadResult:
        result = loadgen.closed_loop("127.0.0.1", self.port, requests, connections=connections, duration=seconds)
        if result.errors or not result.requests:
            raise RuntimeError(f"floor: {result.errors} errors in {result.requests} requests")
        return result

    def workers(self):
        """A reader of the floor workers' CPU seconds (not the arbiter's)."""
        return cost.tree(lambda: self.process.pid, with_parent=False)

    def close(self) -> None:
        self.stack.stop(self.process)


def run(b: Bench) -> None:
    s = b.sizes
    connections = scenarios.ingest_connections()
    b.stack.sql(
        f"DROP TABLE IF EXISTS {FLOOR_TABLE}; CREATE TABLE {FLOOR_TABLE} (id integer PRIMARY KEY, name text NOT NULL, total bigint NOT NULL);"
        f"INSERT INTO {FLOOR_TABLE} SELECT g, 'row' || g, g * 10 FROM generate_series(1, {FLOOR_ROWS}) g; ANALYZE {FLOOR_TABLE}"
    )
    floor = Floor(b)
    try:
        get = lambda path: loadgen.build_request("GET", path, host=floor.host)  # noqa: E731
        bare = [get("/bare")]
        reads = [get(f"/read?id={i}") for i in random.Random(5).sample(range(1, FLOOR_ROWS + 1), 200)]
        headers = {"Content-Type": "application/json"}
        posts = [loadgen.build_request("POST", "/publish", host=floor.host, headers=headers, body=body)
                 for body in scenarios.single_event_bodies()]
        if s.http_warmup:
            floor.load(bare + reads + posts, 1, connections)
            b.stack.purge()
        seconds = loadgen.closed_loop_seconds(s.read_seconds)
        # The bare view at the single-event ingest load's connections and gunicorn settings: the
        # floor of POST /'s rate and of its workers' CPU per request.
        with cost.Meter(b.stack, **{"floor workers": floor.workers()}) as meter:
            runs = b.repeat(lambda: floor.load(bare, s.read_seconds, connections))
        b.limits["floor_bare"] = b.add(figure(
            "raw: HTTP bare Django view", [r.rps for r in runs], "req/s", setup=f"{setup(connections)}, {seconds} s")).value
        per = cost.add(b, "bare Django view", meter, sum(r.requests for r in runs), "request",
                       setup=f"{setup(connections)}: the floor of an API request's CPU")
        b.limits["floor_bare_cpu"] = per["floor workers cpu"]
        b.limits["floor_read"] = b.add(figure(
            "raw: HTTP bare Django view + one-row PostgreSQL read", [r.rps for r in b.repeat(lambda: floor.load(reads, s.read_seconds))],
            "req/s", setup=f"{setup(READ_CONNECTIONS)}, {seconds} s; raw cursor, primary-key read of a {FLOOR_ROWS}-row table, "
                           "CONN_MAX_AGE on")).value
        samples = []
        for _ in range(s.repeats):
            samples.append(floor.load(posts, s.ingest_seconds, connections).rps)
            b.stack.purge()
        b.limits["floor_publish"] = b.add(figure(
            "raw: HTTP bare Django view + one gathered confirmed publish", samples, "req/s",
            setup=f"{setup(connections)}, {loadgen.closed_loop_seconds(s.ingest_seconds)} s; the product's publisher "
                  f"(watchtime.broker.publish_part), the request's event gathered with concurrent ones (group commit, "
                  f"{scenarios.group_wait_ms():g} ms wait)")).value
    finally:
        floor.close()
