"""Dependency checks behind the readiness probes: the API's, answered from a short cache so that
frequent probes from many pods cannot overload PostgreSQL or RabbitMQ, and the consumer's."""

import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.db import connection

from watchtime.metrics import DEPENDENCY_UP

CACHE_SECONDS = 2.0


class Check(NamedTuple):
    ready: bool  # whether this pod should get traffic
    up: bool  # whether the dependency does its job now (watchtime_dependency_up)
    detail: str


_cache: dict[str, tuple[float, Check]] = {}
_lock = threading.Lock()


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the probe body
        connection.close_if_unusable_or_obsolete()
        return False, type(exc).__name__


def database_check() -> Check:
    ok, detail = database_ok()
    return Check(ok, ok, detail)


def broker_check() -> Check:
    """A pod whose own connection is down or stalled is not ready: other pods may publish. A
    blocked connection is: a resource alarm blocks every publisher of the cluster alike, so
    dropping this pod from the Service would only take its reads down too (ingest answers 503
    at once meanwhile, with Retry-After)."""
    if settings.RABBITMQ is None:
        return Check(True, True, "embedded (no broker configured)")
    from watchtime import broker

    status = broker.publisher().status()
    if status.state is broker.CircuitState.CLOSED:
        return Check(True, True, "ok")
    if status.state is broker.CircuitState.BLOCKED:
        return Check(True, False, status.reason)
    return Check(False, False, status.reason)


def cached(name: str, check) -> Check:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    result = check()
    DEPENDENCY_UP.labels(dependency=name).set(1 if result.up else 0)
    with _lock:
        _cache[name] = (now, result)
    return result


def readiness() -> tuple[bool, dict[str, str]]:
    results = {"database": cached("database", database_check), "broker": cached("broker", broker_check)}
    return all(result.ready for result in results.values()), {name: result.detail for name, result in results.items()}


def consumer_readiness(state) -> tuple[bool, dict[str, str]]:
    """The one place consumer readiness is computed (for its /readyz and watchtime_consumer_ready):
    connected to the broker (`state`: the broker's ConsumerState), and the database answers."""
    # Probe and scrape threads are short-lived: close their database connection after each check.
    try:
        db_ok, db_detail = database_ok()
    finally:
        connection.close()
    checks = {"broker": "ok" if state.broker_connected else "not connected", "database": db_detail}
    return state.broker_connected and db_ok, checks
