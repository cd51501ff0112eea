"""The service's own figures: consumer, ingest, reads, freshness, memory."""

import json
import random
import signal
import time
from contextlib import closing
from datetime import UTC, datetime

from bench import confirmed, diagnose, loadgen, workload
from bench.diagnose import Stalled, wait_for
from bench.stack import Stack, applied, children, http_ok, rss_bytes, scrape
from testkit.ports import free_port

# --- the product's API settings ---------------------------------------------------------------------
# The bench runs the API (and the floors) with whatever the product runs with in this environment:
# gunicorn's workers and threads from watchtime.gunicorn_conf (WEB_CONCURRENCY, GUNICORN_THREADS or
# their defaults), the group wait from settings.RABBITMQ (WATCHTIME_PUBLISH_GROUP_MILLISECONDS), as
# the consumer's prefetch below. Group commit gathers only what is concurrent, so the single-event
# ingest load has one connection per gunicorn thread (workers x threads) and its floor the same.


def api_workers() -> int:
    from watchtime import gunicorn_conf

    return gunicorn_conf.workers


def api_threads() -> int:
    from watchtime import gunicorn_conf

    return gunicorn_conf.threads


def group_wait_ms() -> float:
    from django.conf import settings

    return settings.RABBITMQ["group_wait"] * 1000


def ingest_connections() -> int:
    """The single-event ingest load's connections: one per gunicorn thread of the API."""
    return api_workers() * api_threads()


def gunicorn_setup() -> str:
    return f"gunicorn gthread {api_workers()} workers x {api_threads()} threads"


def publish_all(stack: Stack, bodies: list[bytes], *, expect_depth: int | None = None, ports=()) -> None:
    """Put `bodies` on the product queue with confirms; then the broker holds every one (at least
    `expect_depth` of them ready: consumers may have taken up to their prefetch)."""
    confirmed.publish(stack.queue, bodies)
    want = len(bodies) if expect_depth is None else expect_depth
    wait_for(lambda: stack.depth() >= want, timeout=60, what=f"{want} of {len(bodies)} confirmed messages ready in the queue",
             diagnose=lambda: diagnose.describe(stack, ports))


# --- consumer -------------------------------------------------------------------------------------


class Consumers:
    """Running `watchtime consumer` processes, paused (SIGSTOP) while a backlog is queued so a
    drain is timed without process start-up, and reused across runs."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.started: list[tuple] = []  # (process, metrics port)

    def scale(self, count: int) -> None:
        while len(self.started) > count:
            self.stack.stop(self.started.pop()[0])
        while len(self.started) < count:
            process, port = self.stack.start("consumer")
            wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="consumer readiness",
                     diagnose=lambda: diagnose.describe(self.stack, [port], extra=exited(process)))
            self.started.append((process, port))

    def drain_rate(self, bodies: list[bytes], events: int) -> float:
        """Events/s of the running consumers draining `bodies` (holding `events` events).

        Progress is read from the event log (rows above the highest id before the run), not
        from the consumers' metrics: a stopped process cannot be scraped, and not scraping
        leaves them all the CPU. The poll reads max(id) (one index probe) and counts the rows
        only once enough ids are committed: counting a growing range 50 times a second cost
        PostgreSQL a quarter of a core, taken from the consumers being measured.
        """
        (last_id,) = self.stack.sql("SELECT coalesce(max(id), 0) FROM events_eventlog")[0]
        for process, _ in self.started:
            process.send_signal(signal.SIGSTOP)
        try:
            # Stopped consumers still receive up to their prefetch each into their sockets.
            publish_all(self.stack, bodies, expect_depth=len(bodies) - consumer_prefetch() * len(self.started))
        finally:
            for process, _ in self.started:
                process.send_signal(signal.SIGCONT)
        started = time.perf_counter()
        deadline = time.monotonic() + 600
        progress = (None, time.monotonic())  # (last upper bound seen, when it last moved)
        with closing(self.stack.connect()) as conn, conn.cursor() as cur:
            while True:
                cur.execute("SELECT coalesce(max(id), 0) FROM events_eventlog")
                done = cur.fetchone()[0] - last_id  # an upper bound until counted
                if done >= events:
                    # Ids are taken in order but batches of concurrent consumers commit in any.
                    cur.execute("SELECT count(*) FROM events_eventlog WHERE id > %s", [last_id])
                    if (done := cur.fetchone()[0]) >= events:
                        break
                if done != progress[0]:
                    progress = (done, time.monotonic())
                elif time.monotonic() - progress[1] > 20:
                    raise Stalled(f"drain: no progress for 20 s at <= {done} of {events} events\n{self.diagnosis()}")
                if time.monotonic() > deadline or any(p.poll() is not None for p, _ in self.started):
                    raise Stalled(f"drain: consumers too slow or exited at <= {done} of {events} events\n{self.diagnosis()}")
                time.sleep(0.02)
        return events / (time.perf_counter() - started)

    def diagnosis(self) -> str:
        return diagnose.describe(self.stack, [port for _, port in self.started],
                                 extra="; ".join(filter(None, (exited(p) for p, _ in self.started))))

    def close(self) -> None:
        self.scale(0)


def consumer_prefetch() -> int:
    """The prefetch the bench's consumers run with: the product's, from the same environment."""
    from django.conf import settings

    return settings.RABBITMQ["prefetch"]


def exited(process) -> str:
    """Why a service process ended (its last stderr), or "" while it runs."""
    if process.poll() is None:
        return ""
    tail = process.stderr.read().decode(errors="replace")[-1500:] if process.stderr else ""
    return f"pid {process.pid} exited {process.returncode}: {tail}"


def drain_with_rss(stack: Stack, bodies: list[bytes], events: int) -> tuple[float | None, list[tuple[float, int]]]:
    """A fresh consumer draining a prefilled queue: (events/s, [(fraction done, RSS bytes)])."""
    publish_all(stack, bodies)
    process, port = stack.start("consumer")
    samples = []
    try:
        first = None
        deadline = time.monotonic() + 1200
        while (done := applied(port)) < events:
            if done and first is None:
                first = (time.perf_counter(), done)
            samples.append((done / events, rss_bytes(process.pid)))
            if time.monotonic() > deadline or process.poll() is not None:
                raise Stalled(f"memory drain: at {done} of {events} events\n"
                              f"{diagnose.describe(stack, [port], extra=exited(process))}")
            time.sleep(0.25)
        samples.append((1.0, rss_bytes(process.pid)))
        # None when the whole backlog went between two samples (tiny --quick sizes).
        rate = None if first is None else (events - first[1]) / (time.perf_counter() - first[0])
    finally:
        stack.stop(process)
    return rate, samples


# --- API ------------------------------------------------------------------------------------------


class Api:
    def __init__(self, stack: Stack, **extra_env: str):
        """`watchtime api` with the product's workers and threads, unless `extra_env` says otherwise."""
        self.port = free_port()
        env = {"WEB_CONCURRENCY": str(api_workers()), "GUNICORN_THREADS": str(api_threads()), **extra_env}
        self.process, self.metrics_port = stack.start("api", PORT=str(self.port), **env)
        wait_for(lambda: http_ok(f"http://127.0.0.1:{self.port}/readyz"), timeout=60, what="the API to be ready",
                 diagnose=lambda: diagnose.describe(stack, extra=exited(self.process)))
        self.headers = {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/json"}
        self.host = f"127.0.0.1:{self.port}"

    def post(self, body: bytes) -> bytes:
        return loadgen.build_request("POST", "/", host=self.host, headers=self.headers, body=body)

    def get(self, path: str) -> bytes:
        return loadgen.build_request("GET", path, host=self.host, headers={"Authorization": self.headers["Authorization"]})

    def load(self, requests, *, connections: int, duration: float) -> loadgen.LoadResult:
        """Closed loop (wrk): the maximum throughput at `connections`."""
        return self._checked(
            loadgen.closed_loop("127.0.0.1", self.port, requests, connections=connections, duration=duration)
        )

    def load_at_rate(self, requests, *, connections: int, duration: float, rate: float) -> loadgen.LoadResult:
        """Fixed rate: latency from each request's intended send time."""
        return self._checked(
            loadgen.fixed_rate("127.0.0.1", self.port, requests, connections=connections, duration=duration, rate=rate)
        )

    @staticmethod
    def _checked(result: loadgen.LoadResult) -> loadgen.LoadResult:
        if result.errors:
            raise RuntimeError(f"{result.errors} error answers or socket errors: {result.statuses}")
        return result

    def worker_rss(self) -> int:
        return sum(rss_bytes(pid) for pid in children(self.process.pid))


def single_event_bodies(count: int = 500) -> list[bytes]:
    bodies = []
    for i in range(count):
        user, slug, session = workload.stream_names(workload.CLIENT_FIRST_STREAM + i)
        bodies.append(json.dumps({"user": user, "slug": slug, "at": 10 * i, "session": session}).encode())
    return bodies


# --- reads ----------------------------------------------------------------------------------------


def read_paths(stack: Stack, count: int = 200) -> dict[str, list[str]]:
    rows = stack.sql(
        "SELECT u.username, w.movie_id FROM events_watchtime w JOIN events_customuser u ON u.id = w.user_id"
        " ORDER BY random() LIMIT %s",
        [count],
    )
    return {
        "user": [f"/users/{u}/total-watch-time/" for u, _ in rows],
        "movie": [f"/movies/{m}/total-watch-time/" for _, m in rows],
        "user-movie": [f"/{u}/{m}/total-watch-time/" for u, m in rows],
    }


def in_process_latencies(client, paths: list[str], count: int) -> list[float]:
    """Seconds per request through Django's whole stack (middleware, auth, view), no HTTP."""
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        response = client.get(paths[i % len(paths)])
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{paths[i % len(paths)]}: {response.status_code}")
    return latencies


# --- freshness ------------------------------------------------------------------------------------


def lag_buckets(port: int) -> dict[float, float]:
    samples = scrape(port)
    out = {}
    for key, value in samples.items():
        if key.startswith("watchtime_event_lag_seconds_bucket{"):
            le = key.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = value
    return out


def histogram_quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """Prometheus' histogram_quantile over the increase between two scrapes (linear in a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        raise ValueError("no observations")
    rank = q * total
    lower, previous = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - previous) / max(cumulative - previous, 1e-12)
        lower, previous = bound, cumulative
    return bounds[-2]


FRESHNESS_FIRST_STREAM = 1_000_000  # streams of their own: wall-clock stamps, unlike the others


def publish_at_rate(stack: Stack, rate: float, duration: float, steps: workload.Steps) -> int:
    """Single-event messages at `rate`/s for `duration` s, each stamped received_at = ts = now."""
    count = int(rate * duration)
    evts = workload.events(
        count, streams=5000, first_step=steps.take(count, 5000), first_stream=FRESHNESS_FIRST_STREAM
    )

    def stamped(i: int) -> bytes:  # made when it is due: stamped with the publish time
        now = datetime.now(UTC).isoformat()
        evts[i]["ts"] = evts[i]["received_at"] = now
        return workload.message([evts[i]])

    return confirmed.publish(stack.queue, stamped, count=count, rate=rate)


def random_sample(values: list, k: int) -> list:
    return random.Random(4).sample(values, min(k, len(values)))
