"""Publishing with confirms (API side): one connection per process on its own I/O thread, behind a
circuit (circuit.py) that refuses at once whenever a handed-over message could not be confirmed.

Requests hand the publisher message bytes and wait for the broker's confirm; confirms of
concurrent requests arrive batched (`multiple=True`), so durability costs no round trip per
request. Never a silent success; a failure says whether the message can be stored:
- `BrokerUnavailable`: nothing was handed to the broker (circuit open or blocked), or the broker
  returned it unroutable. It is not stored.
- `PublishUnconfirmed`: handed over, then no confirm (timeout, nack, connection lost, blocked
  first). It may be stored and applied later.
"""

import functools
import logging
import random
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import pika
from pika.adapters.select_connection import SelectConnection

from watchtime.broker.circuit import Circuit, Snapshot
from watchtime.broker.confirms import Confirms, settle
from watchtime.broker.connection import config, connection_parameters
from watchtime.broker.topology import declare_topology
from watchtime.broker.types import BrokerUnavailable, PublishUnconfirmed

logger = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
FIRST_CONNECT_WAIT_SECONDS = 1.0
# The publisher's connection, unlike the consumer's (whose loop may be busy applying a batch):
# - heartbeat 10 s: an idle connection to a vanished peer fails within heartbeat/2 + the
#   unacknowledged-data timeout (its heartbeat frame is never acknowledged);
# - no blocked-connection timeout: a blocked connection is kept, because its unblock says when to
#   resume (a new connection would be blocked again only once a message had been handed to it);
# - short connect and bring-up timeouts, and reconnects at most 3 s apart: reconnecting is the
#   circuit's probe, so the publisher is back within seconds of the broker.
HEARTBEAT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 2
STACK_TIMEOUT_SECONDS = 5
RECONNECT_MAX_DELAY_SECONDS = 3.0


class ConnectionStalled(Exception):
    """Why the publisher abandoned a connection that did not confirm in time."""


class Publisher:
    """A process's connection for publishing with confirms, run on its own I/O thread."""

    def __init__(self):
        self._circuit = Circuit()
        self._created = time.monotonic()
        self._connected_once = threading.Event()
        self._failed_probes = 0
        self._stop = threading.Event()
        # Guards _queued together with the circuit check in publish(): a message is either handed
        # to the I/O thread while the circuit is closed, or refused; never left in a dead loop.
        self._lock = threading.Lock()
        self._queued: set[Future] = set()  # given to the I/O thread, not yet to the connection
        self._confirms = Confirms()  # handed to the connection, waiting for the confirm (I/O thread)
        self._connection: SelectConnection | None = None
        self._channel = None
        self._thread = threading.Thread(target=self._run, name="rabbitmq-publisher", daemon=True)
        self._thread.start()

    def status(self) -> Snapshot:
        """The circuit now. A process that never connected yet waits a moment for its first
        connection, so a fresh worker is neither reported unready nor answers 503 while connecting."""
        self._wait_first_connection()
        return self._circuit.snapshot()

    def publish(self, body: bytes, *, content_type: str, timeout: float | None = None) -> None:
        """Publish one persistent message and wait for the broker's confirm. While the circuit is not
        closed, refuse at once: a worker thread held per request through an outage would turn clean
        503s into queued requests and gateway timeouts."""
        timeout = timeout or config()["publish_timeout"]
        self._wait_first_connection()
        future: Future = Future()
        with self._lock:
            refusal = self._circuit.refusal()
            connection = self._connection
            if refusal is None:
                self._queued.add(future)
        if refusal is not None:
            raise BrokerUnavailable(refusal)
        try:
            connection.ioloop.add_callback_threadsafe(functools.partial(self._hand_over, body, content_type, future))
        except Exception as exc:  # the loop is gone (closed between the check and here)
            self._take_queued(future)
            raise BrokerUnavailable(f"connection lost: {type(exc).__name__}") from exc
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            if self._take_queued(future):
                raise BrokerUnavailable("the publisher's I/O thread did not take the message in time") from None
            try:
                connection.ioloop.add_callback_threadsafe(functools.partial(self._on_confirm_timeout, future, timeout))
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

    def _take_queued(self, future: Future) -> bool:
        """Remove a message not yet handed over; False when the I/O thread has taken it."""
        with self._lock:
            queued = future in self._queued
            self._queued.discard(future)
            return queued

    # Everything below runs on the I/O thread.

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._connection = SelectConnection(
                    connection_parameters(
                        heartbeat=HEARTBEAT_SECONDS,
                        blocked_connection_timeout=None,
                        socket_timeout=CONNECT_TIMEOUT_SECONDS,
                        stack_timeout=STACK_TIMEOUT_SECONDS,
                    ),
                    on_open_callback=self._on_connection_open,
                    on_open_error_callback=self._on_connection_open_error,
                    on_close_callback=self._on_connection_closed,
                )
                self._connection.ioloop.start()
            except Exception:
                # This thread is the process's only way to publish: never let it die.
                logger.exception("publisher I/O loop failed; reconnecting")
                self._give_up("publisher I/O loop failed")
            # Callbacks left in the stopped loop never run: their messages were not handed over.
            self._give_up(self._circuit.refusal() or "publisher I/O loop ended")
            self._connection.ioloop.close()
            if self._stop.is_set():
                break
            # Reset the backoff after a connection that lived, so a broker restart is quick.
            delay = 0.5 if time.monotonic() - started > 30 else min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
            self._stop.wait(delay * random.uniform(0.5, 1.0))

    def _give_up(self, reason: str) -> None:
        """Open the circuit, then answer what was queued (nothing handed over) and what was pending."""
        if self._circuit.lost(reason) and not self._stop.is_set():
            logger.warning("publisher circuit open", extra={"reason": reason})
        with self._lock:  # after the circuit opened: nothing new can be queued behind this
            queued, self._queued = self._queued, set()
        for future in queued:
            settle(future, BrokerUnavailable(reason))
        self._confirms.fail_all(reason)

    def _on_connection_open(self, connection) -> None:
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, connection, error) -> None:
        self._circuit.lost(f"cannot connect to RabbitMQ: {error!r}")
        self._failed_probes += 1
        # Every few seconds while the broker is away: one warning per outage, the rest at INFO.
        level = logging.WARNING if self._failed_probes == 1 else logging.INFO
        logger.log(level, "publisher cannot connect to RabbitMQ", extra={"error": repr(error), "attempt": self._failed_probes})
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, reason) -> None:
        self._channel = None
        self._give_up(f"connection closed: {reason!r}")
        connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        self._confirms.new_channel()
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: declare_topology(channel, self._on_ready))

    def _on_ready(self) -> None:
        """Channel in confirm mode and topology declared: a working connection."""
        was = self._circuit.snapshot()
        self._failed_probes = 0
        if self._circuit.connected() and self._connected_once.is_set():
            logger.info("publisher circuit closed", extra={"was_open_seconds": round(time.monotonic() - was.since, 2)})
        self._connected_once.set()

    def _on_channel_closed(self, channel, reason) -> None:
        self._channel = None
        self._give_up(f"channel closed: {reason!r}")
        if self._connection and self._connection.is_open:
            self._connection.close()

    def _on_blocked(self, _connection, frame) -> None:
        reason = f"the broker blocks publishing ({frame.method.reason})"
        if self._circuit.blocked(reason):
            logger.warning("publisher blocked by the broker", extra={"reason": frame.method.reason})
        # The broker reads nothing more from this connection until it unblocks it: what was
        # handed over and not yet confirmed may be stored then, or never. Say so now.
        self._confirms.fail_all("the broker blocked the connection before confirming")

    def _on_unblocked(self, _connection, _frame) -> None:
        was = self._circuit.snapshot()
        if self._circuit.unblocked():
            logger.info("publisher unblocked", extra={"was_blocked_seconds": round(time.monotonic() - was.since, 2)})

    def _hand_over(self, body: bytes, content_type: str, future: Future) -> None:
        if not self._take_queued(future):
            return  # answered already (given up, or the request stopped waiting)
        refusal = self._circuit.refusal()  # blocked since publish() checked, say
        if refusal is None and (self._channel is None or not self._channel.is_open):
            refusal = "channel is not open"
        if refusal is not None:
            settle(future, BrokerUnavailable(refusal))
            return
        tag = self._confirms.add(future)
        try:
            self._channel.basic_publish(
                exchange="",
                routing_key=config()["queue"],
                body=body,
                properties=pika.BasicProperties(
                    content_type=content_type, delivery_mode=PERSISTENT, correlation_id=str(tag)
                ),
                mandatory=True,  # an unroutable message comes back instead of vanishing
            )
        except pika.exceptions.AMQPError as exc:  # pika checks the state before writing a frame
            self._confirms.withdraw(tag)
            settle(future, BrokerUnavailable(f"connection is closing: {exc!r}"))

    def _on_confirm_timeout(self, future: Future, timeout: float) -> None:
        """A request stopped waiting for its confirm. Still unconfirmed on a connection that is not
        blocked: the connection is stalled (a blackhole, a frozen broker). Open the circuit and
        abandon the connection; reconnecting probes for a working one."""
        if not self._confirms.waiting(future):
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

    def _on_return(self, _channel, _method, properties, _body) -> None:
        self._confirms.returned(int(properties.correlation_id))

    def _on_confirm(self, frame) -> None:
        method = frame.method
        self._confirms.confirm(method.delivery_tag, multiple=method.multiple,
                               acked=isinstance(method, pika.spec.Basic.Ack))

    def _close_connection(self) -> None:
        if self._connection.is_open:
            self._connection.close()
        else:
            self._connection.ioloop.stop()


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


def close() -> None:
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
            _publisher = None
