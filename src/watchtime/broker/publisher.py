"""Publishing with confirms (API side): one connection per process, on its own I/O thread.

Requests hand the publisher message bytes and wait for the broker's confirm; confirms of
concurrent requests arrive batched (`multiple=True`), so durability costs no round trip per
request. Unconfirmed within the timeout, nacked or returned means `BrokerUnavailable`, never a
silent success.
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

from watchtime.broker.connection import config, connection_parameters
from watchtime.broker.topology import declare_topology
from watchtime.broker.types import BrokerUnavailable

logger = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
FIRST_CONNECT_WAIT_SECONDS = 1.0


class Publisher:
    """A process's connection for publishing with confirms, run on its own I/O thread."""

    RECONNECT_MAX_DELAY = 10.0

    def __init__(self):
        self._connection: SelectConnection | None = None
        self._channel = None
        self._ready = threading.Event()
        self._was_ready = False
        self._stopping = False
        self._next_tag = 0
        self._pending: dict[int, Future] = {}
        self._returned: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="rabbitmq-publisher", daemon=True)
        self._thread.start()

    def connected(self) -> bool:
        """Connected now; a process that never connected yet waits a moment for its first connection,
        so a freshly started worker is neither reported unready nor answers 503 while connecting."""
        return self._ready.wait(timeout=0 if self._was_ready else FIRST_CONNECT_WAIT_SECONDS)

    def publish(self, body: bytes, *, content_type: str, timeout: float | None = None) -> None:
        """Publish one persistent message and wait for the broker's confirm."""
        timeout = timeout or config()["publish_timeout"]
        # A fresh process gets a moment to connect. After a lost connection the answer is at once
        # (503, the client retries): holding a worker thread per request through an outage would
        # turn clean 503s into queued requests and gateway timeouts.
        if not self.connected():
            raise BrokerUnavailable("not connected to RabbitMQ")
        future: Future = Future()
        connection = self._connection
        try:
            connection.ioloop.add_callback_threadsafe(functools.partial(self._publish, body, content_type, future))
        except (AttributeError, pika.exceptions.AMQPError, RuntimeError) as exc:
            raise BrokerUnavailable(f"connection lost: {type(exc).__name__}") from exc
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            raise BrokerUnavailable(f"no publisher confirm within {timeout} s") from None

    def close(self) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_connection)
            except RuntimeError:
                pass
        self._thread.join(timeout=5)

    # Everything below runs on the I/O thread.

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping:
            connected_at = time.monotonic()
            try:
                self._connection = SelectConnection(
                    connection_parameters(),
                    on_open_callback=self._on_connection_open,
                    on_open_error_callback=self._on_connection_open_error,
                    on_close_callback=self._on_connection_closed,
                )
                self._connection.ioloop.start()
            except Exception:
                # This thread is the process's only way to publish: never let it die.
                logger.exception("publisher I/O loop failed; reconnecting")
                self._ready.clear()
                self._fail_pending("publisher I/O loop failed")
            if self._stopping:
                break
            # Reset the backoff after a connection that lived, so a broker restart is quick.
            delay = 0.5 if time.monotonic() - connected_at > 30 else min(delay * 2, self.RECONNECT_MAX_DELAY)
            time.sleep(delay * random.uniform(0.5, 1.0))

    def _on_connection_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, connection, error) -> None:
        logger.warning("publisher cannot connect to RabbitMQ", extra={"error": str(error)})
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, reason) -> None:
        self._ready.clear()
        self._channel = None
        self._fail_pending(f"connection closed: {reason}")
        if not self._stopping:
            logger.warning("publisher connection closed", extra={"reason": str(reason)})
        connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: declare_topology(channel, self._on_ready))

    def _on_ready(self) -> None:
        self._was_ready = True
        self._ready.set()

    def _on_channel_closed(self, channel, reason) -> None:
        self._ready.clear()
        self._channel = None
        self._fail_pending(f"channel closed: {reason}")
        if self._connection and self._connection.is_open:
            self._connection.close()

    def _publish(self, body: bytes, content_type: str, future: Future) -> None:
        if self._channel is None or not self._channel.is_open:
            future.set_exception(BrokerUnavailable("channel is not open"))
            return
        self._next_tag += 1
        tag = self._next_tag
        self._pending[tag] = future
        self._channel.basic_publish(
            exchange="",
            routing_key=config()["queue"],
            body=body,
            properties=pika.BasicProperties(
                content_type=content_type, delivery_mode=PERSISTENT, correlation_id=str(tag)
            ),
            mandatory=True,  # an unroutable message comes back instead of vanishing
        )

    def _on_return(self, _channel, _method, properties, _body) -> None:
        # basic.return precedes the confirm of the same message
        self._returned.add(int(properties.correlation_id))

    def _on_confirm(self, frame) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            future = self._pending.pop(tag, None)
            if future is None:
                continue
            if acked and tag not in self._returned:
                future.set_result(None)
            else:
                future.set_exception(BrokerUnavailable("the broker refused the message"))
            self._returned.discard(tag)

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        self._returned.clear()
        for future in pending.values():
            if not future.done():
                future.set_exception(BrokerUnavailable(reason))

    def _close_connection(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        elif self._connection is not None:
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
