"""Prometheus metrics (names are a contract with the dashboards and alerts) and their server.

Metrics are served on their own port (WATCHTIME_METRICS_PORT) so the Ingress never exposes
them. The API's gunicorn workers write to a multiprocess directory that the master serves.
"""

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.apps import apps as django_apps
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from watchtime import __version__

# Seconds. Publishing is sub-millisecond to a few seconds (confirm timeout); lag spans a
# healthy sub-second pipeline up to a backlog of minutes.
PUBLISH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
COMPUTATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

BUILD_INFO = Gauge(
    "watchtime_build_info", "Build of the running process (always 1).", ["version", "role"], multiprocess_mode="max"
)
EVENTS_INGESTED = Counter("watchtime_events_ingested", "Events answered 202 (durably accepted).")
INGEST_REJECTED = Counter("watchtime_ingest_rejected", "Ingest requests refused, by reason.", ["reason"])
PUBLISH_SECONDS = Histogram(
    "watchtime_publish_seconds", "Broker publish of one request's events, confirm included.", buckets=PUBLISH_BUCKETS
)
EVENTS_PROCESSED = Counter(
    "watchtime_events_processed", "Events taken off the queue, by outcome.", ["outcome"]
)
TOTAL_COMPUTATION_SECONDS = Histogram(
    "watchtime_total_computation_seconds",
    "Time to compute and commit the totals of one consumer batch.",
    buckets=COMPUTATION_BUCKETS,
)
EVENT_LAG_SECONDS = Histogram(
    "watchtime_event_lag_seconds",
    "From an event's received_at to its totals being committed.",
    buckets=LAG_BUCKETS,
)
BATCH_SIZE = Histogram("watchtime_batch_size", "Events per consumer batch.", buckets=BATCH_BUCKETS)
LAST_BATCH_TIMESTAMP = Gauge(
    "watchtime_consumer_last_batch_timestamp_seconds", "Unix time of the last committed batch.", multiprocess_mode="max"
)
CONSUMER_READY = Gauge(
    "watchtime_consumer_ready", "1 while the consumer is connected to broker and database.", multiprocess_mode="max"
)
BACKFILL_PENDING = Gauge(
    "watchtime_analytics_backfill_pending",
    "User-movies whose analytics wait for the backfill (counted up to 1000).",
    multiprocess_mode="max",
)
HOURLY_HISTORY_BEFORE = Gauge(
    "watchtime_analytics_hourly_history_before_seconds",
    "Unix time before which analytics are kept by UTC hour (an upgrade's history not yet restated, or"
    " pruned before it); 0: every quarter hour is exact.",
    multiprocess_mode="max",
)
DEPENDENCY_UP = Gauge(
    "watchtime_dependency_up",
    "1 when the last readiness check found the dependency working (the broker: connected, confirming, not blocking).",
    ["dependency"],
    multiprocess_mode="livemostrecent",  # the newest check of any live worker
)
# Set by each API worker's replica poller (watchtime.db.replica), about once a second.
REPLICA_LAG_SECONDS = Gauge(
    "watchtime_database_replica_lag_seconds",
    "How far the read replica's replay trails the primary (0 when caught up or no replica; +Inf when behind by an unknown amount).",
    multiprocess_mode="livemostrecent",
)
REPLICA_FALLBACK_READS = Counter(
    "watchtime_database_replica_fallback_reads",
    "Reads meant for the read replica that the primary answered, by reason (unavailable, lagging).",
    ["reason"],
)

for outcome in ("applied", "duplicate", "too_old", "suppressed", "dead_lettered"):
    EVENTS_PROCESSED.labels(outcome=outcome)
for reason in (
    "invalid",
    "too_old",
    "too_large",
    "broker_unavailable",
    "broker_unconfirmed",
    "database_unavailable",
    "unauthenticated",
    "forbidden",
    "rate_limited",
):
    INGEST_REJECTED.labels(reason=reason)
for reason in ("unavailable", "lagging"):
    REPLICA_FALLBACK_READS.labels(reason=reason)


def mark_build(role: str) -> None:
    BUILD_INFO.labels(version=__version__, role=role).set(1)


def registry() -> CollectorRegistry:
    """The registry to expose: every worker's samples in multiprocess mode (the API), else this
    process's.

    In multiprocess mode it also holds the collectors Django apps offer as `scrape_collectors`
    (analytics: watchtime_live_viewers): figures of the database, not of a process, that the
    gunicorn master computes once per scrape instead of each worker keeping a copy. Only the API's
    master exposes them, so the other roles' scrapes cost the database nothing."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        for config in django_apps.get_app_configs():
            for collector in getattr(config, "scrape_collectors", ()):
                collected.register(collector)
        return collected
    return REGISTRY


def serve(port: int, routes: dict[str, Callable[[], tuple[int, str, bytes]]] | None = None) -> ThreadingHTTPServer:
    """Serve /metrics (and any extra GET routes) on `port` from a daemon thread."""
    handlers = {"/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry())), **(routes or {})}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            route = handlers.get(self.path.split("?", 1)[0])
            status, content_type, body = route() if route else (404, "text/plain", b"not found\n")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # scrapes and probes are not worth a log line each
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
