"""`watchtime consumer`: consume the queue, with its /livez, /readyz and /metrics."""

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from watchtime import metrics
from watchtime.broker import ConsumerState
from watchtime.health import consumer_readiness
from watchtime.ops import backfill
from watchtime.ops.consumer import consume_and_save, probe_routes


class Command(BaseCommand):
    help = "Consume heartbeat messages from RabbitMQ and apply them to the database."

    def handle(self, *args, **options):
        if settings.RABBITMQ is None:
            raise CommandError("RABBITMQ_URL is not set: there is no queue to consume")
        state = ConsumerState()
        metrics.mark_build("consumer")
        metrics.CONSUMER_READY.set_function(lambda: 1 if consumer_readiness(state)[0] else 0)
        metrics.serve(settings.WATCHTIME_METRICS_PORT, routes=probe_routes(state))
        stopping = threading.Event()
        backfill.start(stopping)
        try:
            consume_and_save(state=state)
        finally:
            stopping.set()
