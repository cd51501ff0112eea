"""Waits that fail with a diagnosis: where the messages are (queue ready/unacked, dead-letter
queue), what the consumers did with them (watchtime_events_processed_total by outcome) and what
reached the event log, instead of a bare "timed out"."""

import subprocess
import time
from collections.abc import Callable

OUTCOME_PREFIX = 'watchtime_events_processed_total{outcome="'


class Stalled(RuntimeError):
    """A wait that did not finish; the message carries the diagnosis."""


def outcomes(samples: dict[str, float]) -> dict[str, int]:
    """outcome -> events, from one scrape of a consumer's metrics."""
    out = {}
    for key, value in samples.items():
        if key.startswith(OUTCOME_PREFIX):
            out[key[len(OUTCOME_PREFIX) :].split('"', 1)[0]] = int(value)
    return out


def text(
    *,
    queues: dict[str, tuple[int | None, int | None]],
    consumers: dict[int, dict[str, int] | str],
    event_log: int | str | None,
    extra: str = "",
) -> str:
    """One line per fact: queues as name -> (ready, unacked), consumers as metrics port ->
    outcome counts (or why they could not be read), the event log's row count."""
    lines = []
    for name, (ready, unacked) in queues.items():
        lines.append(f"queue {name}: {_n(ready)} ready, {_n(unacked)} unacked")
    for port, found in consumers.items():
        if isinstance(found, str):
            lines.append(f"consumer :{port}: metrics unreadable ({found})")
        else:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "nothing processed"
            lines.append(f"consumer :{port}: {counts}")
    if event_log is not None:
        lines.append(f"event log: {event_log} rows")
    if extra:
        lines.append(extra)
    return "\n  ".join(["diagnosis:", *lines])


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def parse_list_queues(output: str, prefix: str) -> dict[str, tuple[int, int]]:
    """`rabbitmqctl -q list_queues name messages_ready messages_unacknowledged` lines of our queues."""
    found = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith(prefix) and parts[1].isdigit() and parts[2].isdigit():
            found[parts[0]] = (int(parts[1]), int(parts[2]))
    return found


def broker_queues(queue: str) -> dict[str, tuple[int | None, int | None]]:
    """The queue and its dead-letter queue: ready and unacknowledged messages. rabbitmqctl knows
    both (it needs the Erlang cookie: root here); otherwise a passive declare gives ready only."""
    try:
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "name", "messages_ready", "messages_unacknowledged"],
            capture_output=True, text=True, timeout=15,
        )
        found = parse_list_queues(listed.stdout, queue)
        if found:
            return found
    except (OSError, subprocess.TimeoutExpired):
        pass
    from testkit.rabbitmq import queue_depth

    out: dict[str, tuple[int | None, int | None]] = {}
    for name in (queue, f"{queue}.dead-letter"):
        try:
            out[name] = (queue_depth(name), None)
        except Exception as exc:  # noqa: BLE001 - a diagnosis must not fail
            out[name] = (None, None)
            out[f"{name} (passive declare failed: {type(exc).__name__})"] = (None, None)
    return out


def consumer_outcomes(ports) -> dict[int, dict[str, int] | str]:
    from bench.stack import scrape

    found: dict[int, dict[str, int] | str] = {}
    for port in ports:
        try:
            found[port] = outcomes(scrape(port))
        except Exception as exc:  # noqa: BLE001
            found[port] = f"{type(exc).__name__}: {exc}"
    return found


def describe(stack, ports=(), extra: str = "") -> str:
    try:
        (count,) = stack.sql("SELECT count(*) FROM events_eventlog")[0]
    except Exception as exc:  # noqa: BLE001
        count = f"unreadable ({type(exc).__name__})"
    return text(queues=broker_queues(stack.queue), consumers=consumer_outcomes(ports), event_log=count, extra=extra)


def wait_for(predicate: Callable, *, timeout: float, what: str, diagnose: Callable[[], str], interval: float = 0.1):
    """predicate()'s first truthy value; after `timeout` s, Stalled with the diagnosis."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Stalled(f"{what}: not within {timeout} s\n{diagnose()}")
        time.sleep(interval)
