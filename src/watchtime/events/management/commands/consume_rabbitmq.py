"""`watchtime consumer`: consume the queue, with its /livez, /readyz and /metrics."""

import json
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from watchtime import metrics
from watchtime.analytics import background
from watchtime.broker import ConsumerState
from watchtime.events.handlers import consume_and_save
from watchtime.health import database_ok


class Command(BaseCommand):
    help = "Consume heartbeat messages from RabbitMQ and apply them to the database."

    def handle(self, *args, **options):
        if settings.RABBITMQ is None:
            raise CommandError("RABBITMQ_URL is not set: there is no queue to consume")
        state = ConsumerState()
        metrics.mark_build("consumer")
        metrics.CONSUMER_READY.set_function(lambda: 1 if readiness(state)[0] else 0)
        metrics.serve(
            settings.WATCHTIME_METRICS_PORT,
            routes={"/livez": lambda: _livez(state), "/readyz": lambda: _readyz(state)},
        )
        stopping = threading.Event()
        background.start(stopping)
        try:
            consume_and_save(state=state)
        finally:
            stopping.set()


def _livez(state: ConsumerState):
    stalled = time.monotonic() - state.last_tick
    # A loop that has neither made progress nor idled (its 1 s tick) for this long is wedged.
    ok = stalled < settings.WATCHTIME_CONSUMER_LIVENESS_SECONDS
    body = {"status": "ok" if ok else "wedged", "seconds_since_loop_tick": round(stalled, 1)}
    return (200 if ok else 503), "application/json", json.dumps(body).encode()


def readiness(state: ConsumerState) -> tuple[bool, dict[str, str]]:
    """The one place consumer readiness is computed (for /readyz and watchtime_consumer_ready):
    connected to the broker, and the database answers."""
    db_ok, db_detail = _database_ok()
    checks = {"broker": "ok" if state.broker_connected else "not connected", "database": db_detail}
    return state.broker_connected and db_ok, checks


def _database_ok() -> tuple[bool, str]:
    # Probe and scrape threads are short-lived: close their database connection after each check.
    try:
        return database_ok()
    finally:
        connection.close()


def _readyz(state: ConsumerState):
    ready, checks = readiness(state)
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return (200 if ready else 503), "application/json", json.dumps(body).encode()
