"""The consumer's message handler: decode -> validate -> apply, one transaction per batch.

Kept free of broker details: it receives deliveries and says what became of each.
"""

import json
import logging
import time
import uuid

from django.db import InterfaceError, OperationalError, close_old_connections

from watchtime import metrics
from watchtime.events.services import events_apply
from watchtime.events.validation import EventIn, EventsInvalid, parse_message_events
from watchtime.rabbitmq import Delivery, Outcome, TransientFailure

logger = logging.getLogger(__name__)

# SQLSTATE classes that say "not now" rather than "not this message": connection exceptions,
# transaction rollbacks (serialization failures and deadlocks that outlived the retries),
# insufficient resources, operator intervention, system errors.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
# A read-only transaction: we reached a standby during a failover.
TRANSIENT_SQLSTATES = {"25006"}


def is_transient(exc: BaseException) -> bool:
    """Whether a failure to apply is an outage to wait out (keep the batch) rather than bad data."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    code = getattr(exc.__cause__, "pgcode", None) or ""
    return code[:2] in TRANSIENT_SQLSTATE_CLASSES or code in TRANSIENT_SQLSTATES


def decode(body: bytes) -> list[EventIn]:
    """Events of one message; raises ValueError with the reason for a poison message."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"undecodable JSON: {exc}") from None
    try:
        return parse_message_events(payload)
    except EventsInvalid as exc:
        raise ValueError(f"invalid message: {json.dumps(exc.errors)}") from None
    except Exception as exc:  # e.g. a date at the end of the calendar overflowing: still this message's fault
        raise ValueError(f"invalid message: {type(exc).__name__}: {exc}") from None


def handle_batch(deliveries: list[Delivery]) -> list[Outcome]:
    batch_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    decoded: list[tuple[Delivery, list[EventIn]]] = []
    for delivery in deliveries:
        try:
            decoded.append((delivery, decode(delivery.body)))
        except ValueError as exc:
            outcomes.append(_dead_letter(delivery, str(exc), batch_id))

    close_old_connections()
    try:
        applied, duplicates, failed = _apply_isolating_failures(decoded, batch_id)
    except Exception as exc:
        if not is_transient(exc):
            raise
        metrics.CONSUMER_READY.set(0)
        close_old_connections()
        raise TransientFailure(f"database unavailable: {type(exc).__name__}: {exc}".strip()) from exc
    finally:
        close_old_connections()
    outcomes += failed
    outcomes += [Outcome(d.delivery_tag) for d, _ in decoded if d.delivery_tag not in {o.delivery_tag for o in failed}]

    committed = time.time()
    elapsed = time.monotonic() - started
    metrics.CONSUMER_READY.set(1)
    metrics.TOTAL_COMPUTATION_SECONDS.observe(elapsed)
    event_count = sum(len(events) for _, events in decoded)
    metrics.BATCH_SIZE.observe(event_count)
    metrics.EVENTS_PROCESSED.labels(outcome="applied").inc(len(applied))
    metrics.EVENTS_PROCESSED.labels(outcome="duplicate").inc(duplicates)
    for event in applied:
        metrics.EVENT_LAG_SECONDS.observe(max(0.0, committed - event.received_at.timestamp()))
    metrics.LAST_BATCH_TIMESTAMP.set(committed)
    logger.info(
        "batch applied",
        extra={
            "batch_id": batch_id,
            "messages": len(deliveries),
            "events": event_count,
            "applied": len(applied),
            "duplicates": duplicates,
            "dead_lettered": len(deliveries) - len(decoded) + len(failed),
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
    return outcomes


def _apply_isolating_failures(decoded, batch_id):
    """Apply all messages in one transaction. If that fails on the data rather than an outage,
    apply each half of the batch on its own, recursively, so only the message at fault is
    dead-lettered, at a cost of a few transactions per poison message.

    Any non-transient exception counts as the data's fault: an unforeseen one (say, a string
    the database cannot encode) must not crash every consumer in turn, each crash handing its
    whole prefetch window back to the queue and spending the good messages' delivery limit.
    """
    events = [event for _, message_events in decoded for event in message_events]
    if not events:
        return [], 0, []
    try:
        result = events_apply(events=events)
        return result.applied, result.duplicates, []
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(decoded) == 1:
            reason = f"rejected when applied: {type(exc).__name__}: {exc}"
            return [], 0, [_dead_letter(decoded[0][0], reason, batch_id)]
        logger.warning("batch failed, isolating the message at fault", extra={"batch_id": batch_id})
    applied, duplicates, failed = [], 0, []
    middle = len(decoded) // 2
    for half in (decoded[:middle], decoded[middle:]):
        more_applied, more_duplicates, more_failed = _apply_isolating_failures(half, batch_id)
        applied += more_applied
        duplicates += more_duplicates
        failed += more_failed
    return applied, duplicates, failed


def _dead_letter(delivery: Delivery, reason: str, batch_id: str) -> Outcome:
    # The reason is logged, not the payload: payloads may carry personal data.
    logger.warning(
        "message dead-lettered",
        extra={"batch_id": batch_id, "delivery_tag": delivery.delivery_tag, "bytes": len(delivery.body), "reason": reason[:500]},
    )
    metrics.EVENTS_PROCESSED.labels(outcome="dead_lettered").inc()
    return Outcome(delivery.delivery_tag, dead_letter_reason=reason)
