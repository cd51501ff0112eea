"""A client for watchtime's ingest API in the standard library only, for server-side players and
relays: `Client(base_url, key).send(events)` posts arrays of at most 1000 events and retries as
the browser SDK does.

Each event gets its `event_id` before the first attempt and keeps it on every retry, so a retry
can never count twice. A network error, 408, 429 or 5xx is retried after a capped, jittered
exponential backoff of at least the answer's Retry-After; any other 4xx would fail again and is
dropped with a warning (of a 400 naming items, only those items). After `give_up_after` seconds
of failures `send` raises DeliveryError with what is left, event_ids included, to send later.

    from watchtime.client import Client
    result = Client("https://watchtime.example.com", key).send(
        [{"user": "alice", "slug": "heat", "at": 10, "ts": "2026-01-01T20:00:10Z", "session": "tab-1"}])
"""

import email.utils
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from watchtime.ids import uuid7

MAX_BATCH = 1000  # events per request (the API's limit)
MAX_BODY_BYTES = 1000 * 1000  # the API refuses bodies over 1 MiB
BACKOFF_BASE_SECONDS = 1.0

logger = logging.getLogger("watchtime.client")


class DeliveryError(Exception):
    """The API could not be reached or kept failing for `give_up_after` seconds."""

    def __init__(self, message: str, undelivered: list[dict]):
        super().__init__(message)
        self.undelivered = undelivered  # with their event_ids: send them again later, as they are


@dataclass
class SendResult:
    accepted: list[str] = field(default_factory=list)  # event_ids the API answered 2xx for
    dropped: list[tuple[dict, str]] = field(default_factory=list)  # refused events and why
    requests: int = 0
    retries: int = 0


@dataclass(frozen=True)
class _Answer:
    status: int  # 0: no answer (network error, timeout)
    retry_after: float | None = None
    error: dict | None = None  # the API's {"code", "message", "details"} of a refusal
    reason: str = ""


class Client:
    def __init__(self, base_url: str, key: str | None = None, *, timeout: float = 10.0,
                 max_backoff: float = 60.0, give_up_after: float = 300.0):
        self.url = base_url.rstrip("/") + "/"
        self.headers = {"Content-Type": "application/json", "User-Agent": "watchtime-client"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after

    def send(self, events: Iterable[dict]) -> SendResult:
        """Deliver `events` (dicts of the API's event fields); returns what was accepted and dropped."""
        pending = [event if "event_id" in event else {**event, "event_id": str(uuid7())} for event in events]
        result = SendResult()
        started = time.monotonic()
        failures = 0
        while pending:
            batch = next(batches(pending))
            answer = self._post(batch)
            result.requests += 1
            if 200 <= answer.status < 300:
                failures = 0
                result.accepted += [event["event_id"] for event in batch]
                pending = pending[len(batch):]
            elif retryable(answer.status):
                failures += 1
                delay = retry_delay(failures, answer.retry_after, self.max_backoff)
                if time.monotonic() - started + delay > self.give_up_after:
                    raise DeliveryError(f"giving up after {failures} failed attempts ({answer.reason})", pending)
                logger.info("ingest failed (%s); retrying in %.1f s", answer.reason, delay)
                result.retries += 1
                time.sleep(delay)
            else:
                refused = refused_events(batch, answer)
                logger.warning("the API refused %d event(s) (%s); dropped", len(refused), answer.reason)
                result.dropped += [(event, answer.reason) for event in refused]
                ids = {event["event_id"] for event in refused}
                pending = [event for event in pending if event["event_id"] not in ids]
        return result

    def _post(self, batch: list[dict]) -> _Answer:
        body = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return _Answer(response.status, reason=str(response.status))
        except urllib.error.HTTPError as refusal:
            with refusal:
                try:
                    error = json.loads(refusal.read()).get("error")
                except (ValueError, AttributeError, OSError, http.client.HTTPException):
                    error = None  # not the API's error shape (a proxy's page)
            code = error.get("code") if isinstance(error, dict) else None
            return _Answer(refusal.code, retry_after_seconds(refusal.headers.get("Retry-After")),
                           error if isinstance(error, dict) else None, f"{refusal.code} {code or refusal.reason}")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            return _Answer(0, reason=f"no answer: {exc}")


def batches(events: list[dict]) -> Iterator[list[dict]]:
    """Consecutive runs of at most MAX_BATCH events whose JSON array fits MAX_BODY_BYTES."""
    batch, size = [], 2
    for event in events:
        event_size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()) + 1
        if batch and (len(batch) == MAX_BATCH or size + event_size > MAX_BODY_BYTES):
            yield batch
            batch, size = [], 2
        batch.append(event)
        size += event_size
    if batch:
        yield batch


def retryable(status: int) -> bool:
    """No answer, 408, 429 and 5xx may succeed later; any other 4xx would fail again."""
    return status == 0 or status in (408, 429) or status >= 500


def retry_delay(failures: int, retry_after: float | None, max_backoff: float) -> float:
    """Seconds before attempt `failures + 1`: jittered exponential backoff capped at `max_backoff`,
    and never sooner than the server's Retry-After."""
    backoff = min(max_backoff, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))
    return max(backoff * random.uniform(0.5, 1.0), retry_after or 0.0)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date; None when absent or malformed."""
    if value is None or not value.strip():
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def refused_events(batch: list[dict], answer: _Answer) -> list[dict]:
    """The events a 4xx refused: those a 400 names by index in `details.items`, else the batch."""
    details = (answer.error or {}).get("details")
    items = details.get("items") if answer.status == 400 and isinstance(details, dict) else None
    named = [event for index, event in enumerate(batch) if isinstance(items, dict) and str(index) in items]
    return named or batch
