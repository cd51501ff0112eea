"""Dependency checks behind the readiness probes, answered from a short cache so that
frequent probes from many pods cannot overload PostgreSQL or RabbitMQ."""

import threading
import time

from django.conf import settings
from django.db import connection

from watchtime.metrics import DEPENDENCY_UP

CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, bool, str]] = {}
_lock = threading.Lock()


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the probe body
        connection.close_if_unusable_or_obsolete()
        return False, type(exc).__name__


def broker_ok() -> tuple[bool, str]:
    if settings.RABBITMQ is None:
        return True, "embedded (no broker configured)"
    from watchtime import broker

    return (True, "ok") if broker.publisher().connected() else (False, "not connected")


def cached(name: str, check) -> tuple[bool, str]:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
    ok, detail = check()
    DEPENDENCY_UP.labels(dependency=name).set(1 if ok else 0)
    with _lock:
        _cache[name] = (now, ok, detail)
    return ok, detail


def readiness() -> tuple[bool, dict[str, str]]:
    results = {"database": cached("database", database_ok), "broker": cached("broker", broker_ok)}
    return all(ok for ok, _ in results.values()), {name: detail for name, (_, detail) in results.items()}
