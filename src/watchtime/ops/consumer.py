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
from watchtime.broker import DeadLetter, Delivery, Outcome, TransientFailure
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
    rejected: list[tuple[Delivery, str]] = field(default_factory=list)  # (delivery, reason): the whole message
    # (delivery, event, reason): events of a message whose other events were applied
    rejected_events: list[tuple[Delivery, EventIn, str]] = field(default_factory=list)

    def add(self, other: "Applied") -> None:
        self.events += other.events
        self.skipped += other.skipped
        self.rejected += other.rejected
        self.rejected_events += other.rejected_events


def handle_batch(deliveries: list[Delivery]) -> list[Outcome]:
    batch_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    decoded: list[tuple[Delivery, list[EventIn]]] = []
    bad_parts: dict[int, list[DeadLetter]] = {}  # delivery tag -> its events that can never be applied
    for delivery in deliveries:
        try:
            message = messages.decode(delivery.body)
        except messages.PoisonMessage as exc:
            outcomes.append(_dead_letter(delivery, str(exc), batch_id))
            continue
        decoded.append((delivery, message.events))
        for rejected in message.rejected:
            bad_parts.setdefault(delivery.delivery_tag, []).append(_dead_letter_part(delivery, rejected, batch_id))

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
    for delivery, event, reason in applied.rejected_events:
        rejected = messages.Rejected(messages.encode([event]), reason)
        bad_parts.setdefault(delivery.delivery_tag, []).append(_dead_letter_part(delivery, rejected, batch_id))
    outcomes += [Outcome(d.delivery_tag, dead_letters=tuple(bad_parts.get(d.delivery_tag, ())))
                 for d, _ in decoded if d.delivery_tag not in rejected_tags]

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
            "events_dead_lettered": sum(len(parts) for tag, parts in bad_parts.items() if tag not in rejected_tags),
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
    recursively, so only what is at fault is rejected: a message, or, in a message that holds the
    events of several requests (group commit), the events at fault, so that one poison event never
    takes the good events of other requests down with it. A poison message or event costs a few
    transactions. An outage propagates: the caller keeps the whole batch.

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
            delivery, message_events = decoded[0]
            if len(message_events) == 1:
                return Applied(rejected=[(delivery, _reason(exc))])
            result = _isolate_events(delivery, message_events, apply=apply, is_outage=is_outage)
            if len(result.rejected_events) == len(message_events):  # nothing of it applies: dead-letter it whole
                return Applied(rejected=[(delivery, result.rejected_events[0][2])])
            return result
    result = Applied()
    middle = len(decoded) // 2
    for half in (decoded[:middle], decoded[middle:]):
        result.add(apply_isolating_failures(half, apply=apply, is_outage=is_outage))
    return result


def _isolate_events(delivery: Delivery, events: list[EventIn], *, apply, is_outage) -> Applied:
    """One message's events, bisected until each event at fault stands alone."""
    if len(events) > 1:
        result = Applied()
        middle = len(events) // 2
        for half in (events[:middle], events[middle:]):
            try:
                applied, skipped = apply(half)
                result.add(Applied(events=applied, skipped=Counter(skipped)))
            except Exception as exc:
                if is_outage(exc):
                    raise
                result.add(_isolate_events(delivery, half, apply=apply, is_outage=is_outage) if len(half) > 1
                           else Applied(rejected_events=[(delivery, half[0], _reason(exc))]))
        return result
    try:
        applied, skipped = apply(events)
        return Applied(events=applied, skipped=Counter(skipped))
    except Exception as exc:
        if is_outage(exc):
            raise
        return Applied(rejected_events=[(delivery, events[0], _reason(exc))])


def _reason(exc: Exception) -> str:
    return f"rejected when applied: {type(exc).__name__}: {exc}"


def _dead_letter(delivery: Delivery, reason: str, batch_id: str) -> Outcome:
    # The reason is logged, not the payload: payloads may carry personal data.
    logger.warning(
        "message dead-lettered",
        extra={"batch_id": batch_id, "delivery_tag": delivery.delivery_tag, "bytes": len(delivery.body), "reason": reason[:500]},
    )
    metrics.EVENTS_PROCESSED.labels(outcome="dead_lettered").inc()
    return Outcome(delivery.delivery_tag, dead_letter_reason=reason)


def _dead_letter_part(delivery: Delivery, rejected: messages.Rejected, batch_id: str) -> DeadLetter:
    """One event of a message whose other events are applied, as a message of its own for the
    dead-letter queue (the same format: once the cause is fixed, it can be moved back)."""
    logger.warning(
        "event dead-lettered",
        extra={"batch_id": batch_id, "delivery_tag": delivery.delivery_tag, "reason": rejected.reason[:500]},
    )
    metrics.EVENTS_PROCESSED.labels(outcome="dead_lettered").inc()
    return DeadLetter(rejected.body, rejected.reason, messages.CONTENT_TYPE)


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
