"""The consumer: its batch handler (decode -> apply, one transaction per batch), its wiring to the
broker (`consume_and_save`) and its probes. The broker gives deliveries; the handler says what
became of each."""

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections

from watchtime import broker, metrics
from watchtime.accounting.apply import events_apply
from watchtime.broker import Delivery, Outcome, TransientFailure
from watchtime.db.errors import is_outage
from watchtime.events import messages
from watchtime.events.validation import EventIn
from watchtime.health import consumer_readiness

logger = logging.getLogger(__name__)


def consume_and_save(*, state: broker.ConsumerState | None = None) -> None:
    """Consume heartbeat messages and apply them to the database (the consumer role)."""
    broker.consume(handle_batch, state=state)


@dataclass
class Applied:
    """What became of the decoded messages of one batch."""

    events: list[EventIn] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # outcome (duplicate, too_old, ...) -> events
    rejected: list[tuple[Delivery, str]] = field(default_factory=list)  # (delivery, reason)


def handle_batch(deliveries: list[Delivery]) -> list[Outcome]:
    batch_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    decoded: list[tuple[Delivery, list[EventIn]]] = []
    for delivery in deliveries:
        try:
            decoded.append((delivery, messages.decode(delivery.body)))
        except messages.PoisonMessage as exc:
            outcomes.append(_dead_letter(delivery, str(exc), batch_id))

    close_old_connections()
    try:
        applied = apply_isolating_failures(decoded, apply=_apply, is_outage=is_outage)
    except Exception as exc:
        if not is_outage(exc):
            raise
        close_old_connections()
        raise TransientFailure(f"database unavailable: {type(exc).__name__}: {exc}".strip()) from exc
    finally:
        close_old_connections()
    if applied.rejected:
        logger.warning("batch failed, isolated the messages at fault", extra={"batch_id": batch_id})
    outcomes += [_dead_letter(delivery, reason, batch_id) for delivery, reason in applied.rejected]
    rejected_tags = {delivery.delivery_tag for delivery, _ in applied.rejected}
    outcomes += [Outcome(d.delivery_tag) for d, _ in decoded if d.delivery_tag not in rejected_tags]

    committed = time.time()
    elapsed = time.monotonic() - started
    metrics.TOTAL_COMPUTATION_SECONDS.observe(elapsed)
    event_count = sum(len(events) for _, events in decoded)
    metrics.BATCH_SIZE.observe(event_count)
    metrics.EVENTS_PROCESSED.labels(outcome="applied").inc(len(applied.events))
    for outcome, count in applied.skipped.items():
        metrics.EVENTS_PROCESSED.labels(outcome=outcome).inc(count)
    for event in applied.events:
        metrics.EVENT_LAG_SECONDS.observe(max(0.0, committed - event.received_at.timestamp()))
    metrics.LAST_BATCH_TIMESTAMP.set(committed)
    logger.info(
        "batch applied",
        extra={
            "batch_id": batch_id,
            "messages": len(deliveries),
            "events": event_count,
            "applied": len(applied.events),
            **{outcome: count for outcome, count in applied.skipped.items() if count},
            "dead_lettered": len(deliveries) - len(decoded) + len(applied.rejected),
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
    return outcomes


def _apply(events: list[EventIn]) -> tuple[list[EventIn], Counter]:
    result = events_apply(events=events)
    return result.applied, result.skipped


def apply_isolating_failures(
    decoded: list[tuple[Delivery, list[EventIn]]],
    *,
    apply: Callable[[list[EventIn]], tuple[list[EventIn], Counter]],
    is_outage: Callable[[BaseException], bool],
) -> Applied:
    """Apply all messages in one transaction (`apply`: events -> (applied, skipped by outcome)). If that
    fails on the data rather than an outage, apply each half of the batch on its own,
    recursively, so only the message at fault is rejected, at a cost of a few transactions per
    poison message. An outage propagates: the caller keeps the whole batch.

    Any other exception counts as the data's fault: an unforeseen one (say, a string the
    database cannot encode) must not crash every consumer in turn, each crash handing its
    whole prefetch window back to the queue and spending the good messages' delivery limit.
    """
    events = [event for _, message_events in decoded for event in message_events]
    if not events:
        return Applied()
    try:
        applied, skipped = apply(events)
        return Applied(events=applied, skipped=Counter(skipped))
    except Exception as exc:
        if is_outage(exc):
            raise
        if len(decoded) == 1:
            return Applied(rejected=[(decoded[0][0], f"rejected when applied: {type(exc).__name__}: {exc}")])
    result = Applied()
    middle = len(decoded) // 2
    for half in (decoded[:middle], decoded[middle:]):
        part = apply_isolating_failures(half, apply=apply, is_outage=is_outage)
        result.events += part.events
        result.skipped += part.skipped
        result.rejected += part.rejected
    return result


def _dead_letter(delivery: Delivery, reason: str, batch_id: str) -> Outcome:
    # The reason is logged, not the payload: payloads may carry personal data.
    logger.warning(
        "message dead-lettered",
        extra={"batch_id": batch_id, "delivery_tag": delivery.delivery_tag, "bytes": len(delivery.body), "reason": reason[:500]},
    )
    metrics.EVENTS_PROCESSED.labels(outcome="dead_lettered").inc()
    return Outcome(delivery.delivery_tag, dead_letter_reason=reason)


def probe_routes(state: broker.ConsumerState) -> dict:
    """The consumer's /livez and /readyz, served on its metrics port."""
    return {"/livez": lambda: _livez(state), "/readyz": lambda: _readyz(state)}


def _livez(state: broker.ConsumerState):
    stalled = time.monotonic() - state.last_tick
    # A loop that has neither made progress nor idled (its 1 s tick) for this long is wedged.
    ok = stalled < settings.WATCHTIME_CONSUMER_LIVENESS_SECONDS
    body = {"status": "ok" if ok else "wedged", "seconds_since_loop_tick": round(stalled, 1)}
    return (200 if ok else 503), "application/json", json.dumps(body).encode()


def _readyz(state: broker.ConsumerState):
    ready, checks = consumer_readiness(state)
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return (200 if ready else 503), "application/json", json.dumps(body).encode()
