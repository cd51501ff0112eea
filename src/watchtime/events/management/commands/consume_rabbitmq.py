import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from watchtime import metrics, rabbitmq
from watchtime.health import database_ok
from watchtime.rabbitmq import ConsumerState


class Command(BaseCommand):
    help = "Consume heartbeat messages from RabbitMQ and apply them to the database."

    def handle(self, *args, **options):
        if settings.RABBITMQ is None:
            raise CommandError("RABBITMQ_URL is not set: there is no queue to consume")
        state = ConsumerState()
        metrics.mark_build("consumer")
        metrics.serve(
            settings.WATCHTIME_METRICS_PORT,
            routes={"/livez": lambda: self._livez(state), "/readyz": lambda: self._readyz(state)},
        )
        rabbitmq.consume_and_save(state=state)

    @staticmethod
    def _livez(state: ConsumerState):
        stalled = time.monotonic() - state.last_tick
        # A loop that has neither made progress nor idled (its 1 s tick) for this long is wedged.
        ok = stalled < settings.WATCHTIME_CONSUMER_LIVENESS_SECONDS
        body = {"status": "ok" if ok else "wedged", "seconds_since_loop_tick": round(stalled, 1)}
        return (200 if ok else 503), "application/json", json.dumps(body).encode()

    @staticmethod
    def _readyz(state: ConsumerState):
        # Probe threads are short-lived: close their database connection after each check.
        try:
            db_ok, db_detail = database_ok()
        finally:
            connection.close()
        ready = state.broker_connected and db_ok
        metrics.CONSUMER_READY.set(1 if ready else 0)
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": {"broker": "ok" if state.broker_connected else "not connected", "database": db_detail},
        }
        return (200 if ready else 503), "application/json", json.dumps(body).encode()
