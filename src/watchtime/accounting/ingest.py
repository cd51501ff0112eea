"""Ingest: make accepted events durable, by a confirmed publish or (embedded mode) a committed apply."""

import logging

from django.conf import settings
from django.db import DatabaseError

from watchtime import metrics
from watchtime.accounting.apply import events_apply
from watchtime.db.errors import is_outage
from watchtime.errors import DomainError, unavailable
from watchtime.events import messages
from watchtime.events.horizon import nominal_horizon_us
from watchtime.events.validation import EventIn
from watchtime.timestamps import from_us, to_us

logger = logging.getLogger(__name__)


def events_ingest(*, events: list[EventIn]) -> None:
    """Raises DomainError 400 too_old for an event older than the retention horizon (nothing is
    accepted), 503 (with Retry-After) when the events cannot be made durable now."""
    _refuse_too_old(events)
    if settings.RABBITMQ is None:
        try:
            events_apply(events=events)
        except DatabaseError as exc:
            if not is_outage(exc):
                raise
            raise unavailable("database_unavailable", "The database is unavailable.") from exc
        return
    from watchtime import broker  # the broker client is only loaded where a broker is configured

    # The ids a retry must carry: a retry with the same event_ids is harmless (dedupe), one without
    # them (ids generated again) would count a stored copy twice.
    details = {"event_ids": [str(event.event_id) for event in events]}
    try:
        with metrics.PUBLISH_SECONDS.time():
            broker.publish_part(messages.encode_part(events), items=len(events), combine=messages.combine,
                                content_type=messages.CONTENT_TYPE)
    except broker.PublishUnconfirmed as exc:
        logger.warning("publish unconfirmed", extra={"error": str(exc), "events": len(events)})
        raise unavailable(
            "broker_unconfirmed",
            "The message broker did not confirm these events in time; they are not known to be stored: "
            "retry with the same event_ids.",
            details,
        ) from exc
    except broker.BrokerUnavailable as exc:
        logger.warning("publish refused", extra={"error": str(exc), "events": len(events)})
        raise unavailable(
            "broker_unavailable", "The message broker is unavailable; nothing was accepted.", details
        ) from exc


def _refuse_too_old(events: list[EventIn]) -> None:
    """An event whose `ts` is before the horizon could not be placed exactly (its neighbours may be
    pruned). Events without `ts` are keyed by their receive time, never too old here."""
    if not events:
        return
    horizon = nominal_horizon_us(events[0].received_at)
    if horizon is None:
        return
    old = {str(i): {"ts": [f"Older than the retention horizon {from_us(horizon).isoformat()}."]}
           for i, e in enumerate(events) if e.ts is not None and to_us(e.ts) < horizon}
    if old:
        raise DomainError("too_old", "The request holds events older than the retention horizon; nothing was accepted.",
                          details={"items": old})
