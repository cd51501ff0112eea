"""Publishing with confirms (API side): one connection per process on its own I/O thread, behind a
circuit (circuit.py) that refuses at once whenever a handed-over message could not be confirmed.

Group commit: requests hand the publisher parts (their encoded items) and wait; while a message
awaits its confirm, the parts of concurrent requests are gathered into one message (gathering.py)
until it holds `group_items` items or its first part has waited `group_wait` seconds, which is
published once and confirmed once for all of them; with none awaiting its confirm a part goes at
once. Never a silent success; each request gets its own answer, saying whether
its items can be stored:
- `BrokerUnavailable`: nothing was handed to the broker (circuit open or blocked), or the broker
  returned it unroutable. It is not stored.
- `PublishUnconfirmed`: handed over, then no confirm (timeout, nack, connection lost, blocked
  first). It may be stored and applied later.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import pika

from watchtime.broker.circuit import Snapshot
from watchtime.broker.confirms import settle
from watchtime.broker.connection import config
from watchtime.broker.gathering import Group, Part
from watchtime.broker.publisher_loop import ConnectionStalled, PublisherLoop
from watchtime.broker.types import BrokerUnavailable, PublishUnconfirmed

logger = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
FIRST_CONNECT_WAIT_SECONDS = 1.0


class Publisher(PublisherLoop):
    """A process's connection for publishing with confirms, run on its own I/O thread."""

    def status(self) -> Snapshot:
        """The circuit now. A process that never connected yet waits a moment for its first
        connection, so a fresh worker is neither reported unready nor answers 503 while connecting."""
        self._wait_first_connection()
        return self._circuit.snapshot()

    def publish(self, body: bytes, *, content_type: str, timeout: float | None = None) -> None:
        """Publish one persistent message on its own and wait for the broker's confirm."""
        self._send(Part(body, 1), None, content_type, timeout)

    def publish_part(self, body: bytes, *, items: int, combine: Callable[[list[bytes]], bytes], content_type: str,
                     timeout: float | None = None) -> None:
        """Publish `items` items (encoded as `body`) gathered with those of concurrent requests into
        one persistent message (`combine` joins the parts' bodies into it), and wait for the
        broker's confirm of that message."""
        self._send(Part(body, items), combine, content_type, timeout)

    def _send(self, part: Part, combine, content_type: str, timeout: float | None) -> None:
        """While the circuit is not closed, refuse at once: a worker thread held per request through
        an outage would turn clean 503s into queued requests and gateway timeouts."""
        timeout = timeout or config()["publish_timeout"]
        self._wait_first_connection()
        with self._lock:
            refusal = self._circuit.refusal()
            connection = self._connection
            if refusal is None:
                if combine is None:
                    ready, opened = [self._gathering.single(part, combine=_alone, content_type=content_type)], None
                else:
                    ready, opened = self._gathering.add(part, combine=combine, content_type=content_type)
        if refusal is not None:
            raise BrokerUnavailable(refusal)
        try:
            for group in ready:
                connection.ioloop.add_callback_threadsafe(functools.partial(self._hand_over, group))
            if opened is not None:
                connection.ioloop.add_callback_threadsafe(functools.partial(self._arm_timer, opened))
        except Exception as exc:  # the loop is gone (closed between the check and here)
            self._withdraw(part)
            raise BrokerUnavailable(f"connection lost: {type(exc).__name__}") from exc
        try:
            part.future.result(timeout=timeout)
        except FutureTimeout:
            if self._withdraw(part):
                raise BrokerUnavailable("the publisher's I/O thread did not take the message in time") from None
            try:
                connection.ioloop.add_callback_threadsafe(functools.partial(self._on_confirm_timeout, part.group, timeout))
            except Exception:
                pass  # that loop has ended: the connection is given up already
            raise PublishUnconfirmed(f"no publisher confirm within {timeout} s") from None

    def close(self) -> None:
        self._stop.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_connection)
            except Exception:
                pass
        self._thread.join(timeout=5)

    def _wait_first_connection(self) -> None:
        self._connected_once.wait(timeout=max(0.0, self._created + FIRST_CONNECT_WAIT_SECONDS - time.monotonic()))

    def _withdraw(self, part: Part) -> bool:
        """Take back a part not yet handed over; False when the I/O thread has published it."""
        with self._lock:
            return self._gathering.withdraw(part)

    # Below: the I/O thread's part of publishing (its connection's lifecycle is in PublisherLoop).

    def _arm_timer(self, group: Group) -> None:
        """A group opened. With no message awaiting its confirm nothing is gained by waiting: it goes
        at once (a lone request at low load pays no group wait). Otherwise it gathers the requests
        arriving meanwhile until it is full or its first part has waited `group_wait`."""
        if self._confirms.idle:
            self._on_group_due(group)
        elif self._connection is not None:
            self._connection.ioloop.call_later(self._group_wait, functools.partial(self._on_group_due, group))

    def _on_group_due(self, group: Group) -> None:
        with self._lock:
            due = self._gathering.due(group)
        if due:
            self._hand_over(group)

    def _hand_over(self, group: Group) -> None:
        with self._lock:
            if not self._gathering.hand_over(group):
                return  # answered already (withdrawn, or given up)
        refusal = self._circuit.refusal()  # blocked since the parts were gathered, say
        if refusal is None and (self._channel is None or not self._channel.is_open):
            refusal = "channel is not open"
        if refusal is not None:
            group.settle(BrokerUnavailable(refusal))
            return
        group.message = Future()
        group.message.add_done_callback(lambda message: group.settle(message.exception()))
        tag = self._confirms.add(group.message)
        try:
            self._channel.basic_publish(
                exchange="",
                routing_key=config()["queue"],
                body=group.body(),
                properties=pika.BasicProperties(
                    content_type=group.content_type, delivery_mode=PERSISTENT, correlation_id=str(tag)
                ),
                mandatory=True,  # an unroutable message comes back instead of vanishing
            )
        except pika.exceptions.AMQPError as exc:  # pika checks the state before writing a frame
            self._confirms.withdraw(tag)
            settle(group.message, BrokerUnavailable(f"connection is closing: {exc!r}"))

    def _on_confirm_timeout(self, group: Group, timeout: float) -> None:
        """A request stopped waiting for its confirm. Still unconfirmed on a connection that is not
        blocked: the connection is stalled (a blackhole, a frozen broker). Open the circuit and
        abandon the connection; reconnecting probes for a working one."""
        if group.message is None or not self._confirms.waiting(group.message):
            return  # confirmed (or answered) just after the request stopped waiting
        reason = f"no publisher confirm within {timeout} s"
        if not self._circuit.stalled(reason):
            return
        logger.warning("publisher circuit open", extra={"reason": reason})
        self._confirms.fail_all(reason)
        connection = self._connection
        if connection is not None and connection.is_open:
            # Not a graceful close: its Connection.Close would wait on the same stalled path. This
            # is how pika itself drops a connection whose heartbeats stopped.
            connection._terminate_stream(ConnectionStalled(reason))  # noqa: SLF001


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    """This process's publisher, created on first use (after gunicorn has forked)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = Publisher()
        return _publisher


def publish(body: bytes, *, content_type: str) -> None:
    """Publish one persistent message from this process and wait for the broker's confirm."""
    publisher().publish(body, content_type=content_type)


def publish_part(body: bytes, *, items: int, combine: Callable[[list[bytes]], bytes], content_type: str) -> None:
    """Publish `items` items with those of concurrent requests of this process (group commit) and
    wait for the broker's confirm of the message that holds them."""
    publisher().publish_part(body, items=items, combine=combine, content_type=content_type)


def _alone(bodies: list[bytes]) -> bytes:
    (body,) = bodies
    return body


def close() -> None:
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
            _publisher = None
