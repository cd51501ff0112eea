"""Floors, measured in the same run with the product's gunicorn settings and the same load
generator: a bare Django view, plus a one-row read, plus one confirmed publish (bench/floor_app.py)."""

import random
import sys
from pathlib import Path

from bench import loadgen, scenarios
from bench.core import READ_CONNECTIONS, Bench
from bench.diagnose import wait_for
from bench.floor_app import FLOOR_ROWS, FLOOR_TABLE
from bench.results import figure
from bench.stack import http_ok
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SETUP = (
    f"bench/floor_app.py under gunicorn with watchtime.gunicorn_conf (gthread {scenarios.API_WORKERS} workers x "
    f"{scenarios.API_THREADS} threads, access log on), no middleware, JsonResponse; wrk, closed loop, {READ_CONNECTIONS} "
    "keep-alive connections"
)


class Floor:
    def __init__(self, b: Bench):
        self.stack = b.stack
        self.port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "--config", "python:watchtime.gunicorn_conf", "bench.floor_app:application"]
        self.process, _ = b.stack.start_command(
            argv, gunicorn=True, PORT=str(self.port), WEB_CONCURRENCY=str(scenarios.API_WORKERS),
            GUNICORN_THREADS=str(scenarios.API_THREADS), DJANGO_SETTINGS_MODULE="bench.floor_app",
            PYTHONPATH=f"{ROOT}:{b.stack.env.get('PYTHONPATH', '')}".rstrip(":"),
        )
        wait_for(lambda: http_ok(f"http://127.0.0.1:{self.port}/bare") or self.process.poll() is not None,
                 timeout=60, what="the floor app to answer", diagnose=b.diagnosis)
        if self.process.poll() is not None:
            raise RuntimeError(f"the floor app exited: {self.process.stderr.read().decode()[-2000:]}")
        self.host = f"127.0.0.1:{self.port}"

    def load(self, requests: list[bytes], seconds: float) -> float:
        result = loadgen.closed_loop("127.0.0.1", self.port, requests, connections=READ_CONNECTIONS, duration=seconds)
        if result.errors or not result.requests:
            raise RuntimeError(f"floor: {result.errors} errors in {result.requests} requests")
        return result.rps

    def close(self) -> None:
        self.stack.stop(self.process)


def run(b: Bench) -> None:
    s = b.sizes
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
            floor.load(bare + reads + posts, 1)
            b.stack.purge()
        seconds = loadgen.closed_loop_seconds(s.read_seconds)
        b.limits["floor_bare"] = b.add(figure(
            "raw: HTTP bare Django view", b.repeat(lambda: floor.load(bare, s.read_seconds)), "req/s",
            setup=f"{SETUP}, {seconds} s")).value
        b.limits["floor_read"] = b.add(figure(
            "raw: HTTP bare Django view + one-row PostgreSQL read", b.repeat(lambda: floor.load(reads, s.read_seconds)), "req/s",
            setup=f"{SETUP}, {seconds} s; raw cursor, primary-key read of a {FLOOR_ROWS}-row table, CONN_MAX_AGE on")).value
        samples = []
        for _ in range(s.repeats):
            samples.append(floor.load(posts, s.ingest_seconds))
            b.stack.purge()
        b.limits["floor_publish"] = b.add(figure(
            "raw: HTTP bare Django view + one confirmed publish", samples, "req/s",
            setup=f"{SETUP}, {loadgen.closed_loop_seconds(s.ingest_seconds)} s; the product's publisher (watchtime.broker.publish), "
                  "one single-event message per request")).value
    finally:
        floor.close()
