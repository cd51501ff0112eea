"""Ingest: make accepted events durable, by a confirmed publish or (embedded mode) a committed apply."""

import logging

from django.conf import settings
from django.db import DatabaseError

from watchtime import metrics
from watchtime.dberrors import is_outage
from watchtime.errors import unavailable
from watchtime.events import messages
from watchtime.events.apply import events_apply
from watchtime.events.validation import EventIn

logger = logging.getLogger(__name__)


def events_ingest(*, events: list[EventIn]) -> None:
    """Raises DomainError 503 (with Retry-After) when the events cannot be made durable now."""
    if settings.RABBITMQ is None:
        try:
            events_apply(events=events)
        except DatabaseError as exc:
            if not is_outage(exc):
                raise
            raise unavailable("database_unavailable", "The database is unavailable.") from exc
        return
    from watchtime import broker  # the broker client is only loaded where a broker is configured

    try:
        with metrics.PUBLISH_SECONDS.time():
            broker.publish(messages.encode(events), content_type=messages.CONTENT_TYPE)
    except broker.BrokerUnavailable as exc:
        logger.warning("publish failed", extra={"error": str(exc), "events": len(events)})
        raise unavailable("broker_unavailable", "The message broker is unavailable; nothing was accepted.") from exc
