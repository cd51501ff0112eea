"""The RabbitMQ client: the only module that imports pika.

- Topology: a durable quorum queue (WATCHTIME_QUEUE) whose rejected or over-redelivered
  messages go, at least once, through `<queue>.dlx` to the dead-letter queue `<queue>.dead-letter`.
- `Publisher` (API side): one connection per process on its own I/O thread. Requests hand it
  messages and wait for the broker's confirm; confirms of concurrent requests arrive batched
  (`multiple=True`), so durability costs no round trip per request. Unconfirmed within the
  timeout, nacked or returned means `BrokerUnavailable`, never a silent success.
- `Consumer` (consumer side): shaped like pika's asynchronous consumer example, with explicit
  open/close/cancel callbacks; `ReconnectingConsumer` runs it with capped, jittered backoff.
"""

import functools
import json
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import pika
from django.conf import settings
from pika.adapters.select_connection import SelectConnection
from pika.exchange_type import ExchangeType

logger = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
# Redeliveries of one message (e.g. a consumer crash-looping on it) before it is dead-lettered.
DELIVERY_LIMIT = 20
# A consumer transaction holds at most this many message bytes (~10,000 events), whatever the prefetch.
MAX_BATCH_BYTES = 2 * 1024 * 1024
FIRST_CONNECT_WAIT_SECONDS = 1.0


class BrokerUnavailable(Exception):
    """The broker did not durably take the message; the client may retry later."""


@dataclass(frozen=True)
class Delivery:
    delivery_tag: int
    body: bytes
    redelivered: bool


@dataclass(frozen=True)
class Outcome:
    """What became of one delivered message: done (ack) or dead-lettered with a reason."""

    delivery_tag: int
    dead_letter_reason: str | None = None


class TransientFailure(Exception):
    """The batch could not be applied now (database down); keep it and retry later."""


def config() -> dict:
    if settings.RABBITMQ is None:
        raise BrokerUnavailable("RABBITMQ_URL is not configured")
    return settings.RABBITMQ


def connection_parameters(**overrides) -> pika.ConnectionParameters:
    cfg = config()
    options = {
        "host": cfg["host"],
        "port": cfg["port"],
        "virtual_host": cfg["virtual_host"],
        "credentials": pika.PlainCredentials(cfg["username"], cfg["password"]),
        "heartbeat": 30,
        "blocked_connection_timeout": 30,
        "connection_attempts": 1,
        "socket_timeout": 5,
        "client_properties": {"connection_name": f"watchtime-{threading.current_thread().name}"},
    }
    if cfg["ssl"]:
        import ssl

        options["ssl_options"] = pika.SSLOptions(ssl.create_default_context(), cfg["host"])
    options.update(overrides)
    return pika.ConnectionParameters(**options)


def queue_names(queue: str | None = None) -> tuple[str, str, str]:
    """(queue, dead-letter exchange, dead-letter queue)."""
    queue = queue or config()["queue"]
    return queue, f"{queue}.dlx", f"{queue}.dead-letter"


def queue_arguments(queue: str) -> dict:
    _, dlx, _ = queue_names(queue)
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": dlx,
        # at-least-once dead-lettering needs reject-publish overflow; nothing is dropped.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": DELIVERY_LIMIT,
    }


def declare_topology(channel, on_done: Callable[[], None]) -> None:
    """Declare exchange, queues and binding on an async channel, then call `on_done`."""
    queue, dlx, dead_letter_queue = queue_names()
    steps = [
        lambda next_: channel.exchange_declare(dlx, ExchangeType.fanout, durable=True, callback=next_),
        lambda next_: channel.queue_declare(
            dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}, callback=next_
        ),
        lambda next_: channel.queue_bind(dead_letter_queue, dlx, callback=next_),
        lambda next_: channel.queue_declare(queue, durable=True, arguments=queue_arguments(queue), callback=next_),
    ]

    def run(index: int, _frame=None):
        if index == len(steps):
            on_done()
        else:
            steps[index](functools.partial(run, index + 1))

    run(0)


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --- publishing -----------------------------------------------------------------------------------


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

    def publish(self, payload: dict, *, timeout: float | None = None) -> None:
        """Publish one persistent message and wait for the broker's confirm."""
        timeout = timeout or config()["publish_timeout"]
        # A fresh process gets a moment to connect. After a lost connection the answer is at once
        # (503, the client retries): holding a worker thread per request through an outage would
        # turn clean 503s into queued requests and gateway timeouts.
        if not self.connected():
            raise BrokerUnavailable("not connected to RabbitMQ")
        future: Future = Future()
        body = encode(payload)
        connection = self._connection
        try:
            connection.ioloop.add_callback_threadsafe(functools.partial(self._publish, body, future))
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

    def _publish(self, body: bytes, future: Future) -> None:
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
                content_type="application/json", delivery_mode=PERSISTENT, correlation_id=str(tag)
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


def publish(message: dict) -> None:
    publisher().publish(message)


def close() -> None:
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
            _publisher = None


# --- consuming ------------------------------------------------------------------------------------


class Consumer:
    """One connection's worth of consuming, after pika's asynchronous consumer example.

    Deliveries are collected into batches (up to `batch_size`, or whatever arrived within
    `max_wait`) and handed to `handle_batch`, which applies them in one transaction and returns
    one Outcome per delivery. Only then are they settled: dead-letters with
    `nack(requeue=False)`, the rest with one multiple-ack. A TransientFailure keeps the batch and
    retries it after a capped backoff; the prefetch window stops new deliveries meanwhile.
    """

    def __init__(self, handle_batch: Callable[[list[Delivery]], list[Outcome]], *, state: "ConsumerState"):
        cfg = config()
        self._handle_batch = handle_batch
        self._state = state
        self._queue = cfg["queue"]
        self._prefetch = cfg["prefetch"]
        self._batch_size = cfg["batch_size"]
        self._max_wait = 0.05
        self._connection: SelectConnection | None = None
        self._channel = None
        self._consumer_tag = None
        self._batch: list[Delivery] = []
        self._flush_timer = None
        self._retry_delay = 0.0
        self._closing = False
        self._stop_requested = False  # set from the signal handler, read between slices
        self.was_consuming = False
        self.should_reconnect = False

    # lifecycle -------------------------------------------------------------------------------

    def run(self) -> None:
        self._connection = SelectConnection(
            connection_parameters(),
            on_open_callback=self.on_connection_open,
            on_open_error_callback=self.on_connection_open_error,
            on_close_callback=self.on_connection_closed,
        )
        self._schedule_tick()
        self._connection.ioloop.start()

    def stop(self) -> None:
        """Graceful stop: cancel the consumer, finish or return the batch, close."""
        if self._closing:
            return
        self._closing = True
        if self._channel is not None and self._consumer_tag is not None:
            self._channel.basic_cancel(self._consumer_tag, self.on_cancelok)
        else:
            self._close_connection()

    def request_stop(self) -> None:
        """Thread/signal-safe stop request."""
        self._stop_requested = True
        if self._connection is not None:
            self._connection.ioloop.add_callback_threadsafe(self.stop)

    def on_connection_open(self, connection) -> None:
        connection.channel(on_open_callback=self.on_channel_open)

    def on_connection_open_error(self, connection, error) -> None:
        logger.warning("consumer cannot connect to RabbitMQ", extra={"error": str(error)})
        self.should_reconnect = True
        connection.ioloop.stop()

    def on_connection_closed(self, connection, reason) -> None:
        self._channel = None
        self._state.set_broker(False)
        # Unacked deliveries return to the queue with the connection; drop our copies.
        self._batch.clear()
        if not self._closing:
            logger.warning("consumer connection closed", extra={"reason": str(reason)})
            self.should_reconnect = True
        connection.ioloop.stop()

    def on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self.on_channel_closed)
        declare_topology(channel, self.on_topology_ready)

    def on_channel_closed(self, channel, reason) -> None:
        logger.warning("consumer channel closed", extra={"reason": str(reason)})
        self._channel = None
        self._close_connection()

    def on_topology_ready(self) -> None:
        self._channel.basic_qos(prefetch_count=self._prefetch, callback=self.on_basic_qos_ok)

    def on_basic_qos_ok(self, _frame) -> None:
        self._channel.add_on_cancel_callback(self.on_consumer_cancelled)
        self._consumer_tag = self._channel.basic_consume(self._queue, self.on_message)
        self.was_consuming = True
        self._state.set_broker(True)
        logger.info("consuming", extra={"queue": self._queue, "prefetch": self._prefetch})

    def on_consumer_cancelled(self, _frame) -> None:
        # The broker cancelled us (queue deleted, node shutdown): reconnect from scratch.
        logger.warning("consumer cancelled by the broker")
        self.should_reconnect = True
        self._close_connection()

    def on_cancelok(self, _frame) -> None:
        self._consumer_tag = None
        # The batch being applied when the stop came has been committed and acked by now (the
        # loop is single-threaded). What we hold beyond it goes back to the queue with the
        # channel: applying a whole prefetch window first could outlast the grace period.
        self._batch.clear()
        self._close_connection()

    # deliveries ------------------------------------------------------------------------------

    def on_message(self, _channel, method, _properties, body: bytes) -> None:
        self._batch.append(Delivery(method.delivery_tag, body, method.redelivered))
        if self._retry_delay:
            return  # waiting out a database outage; the retry timer flushes
        if len(self._batch) >= self._batch_size:
            self.flush()
        elif self._flush_timer is None:
            self._flush_timer = self._connection.ioloop.call_later(self._max_wait, self.flush)

    def flush(self) -> None:
        if self._flush_timer is not None:
            self._connection.ioloop.remove_timeout(self._flush_timer)
            self._flush_timer = None
        while self._batch and self._channel is not None and self._channel.is_open and not self._stop_requested:
            # After an outage up to `prefetch` messages wait here: apply them in bounded slices.
            size, count = 0, 0
            for delivery in self._batch[: self._batch_size]:
                size += len(delivery.body)
                count += 1
                if size >= MAX_BATCH_BYTES:
                    break
            if not self._apply_and_settle(self._batch[:count]):
                return
            del self._batch[:count]

    def _apply_and_settle(self, batch: list[Delivery]) -> bool:
        try:
            outcomes = self._handle_batch(batch)
        except TransientFailure as exc:
            self._retry_delay = min(max(self._retry_delay * 2, 0.25), 10.0)
            logger.warning("batch not applied, will retry", extra={"error": str(exc), "retry_in": self._retry_delay})
            self._flush_timer = self._connection.ioloop.call_later(
                self._retry_delay * random.uniform(0.8, 1.2), self.flush
            )
            return False
        self._retry_delay = 0.0
        for outcome in outcomes:
            if outcome.dead_letter_reason is not None:
                self._channel.basic_nack(outcome.delivery_tag, multiple=False, requeue=False)
        settled = {o.delivery_tag for o in outcomes if o.dead_letter_reason is not None}
        remaining = [d.delivery_tag for d in batch if d.delivery_tag not in settled]
        if remaining:
            # Deliveries are settled in order, so one multiple-ack covers exactly this slice.
            self._channel.basic_ack(max(remaining), multiple=True)
        self._state.progress()
        return True

    # housekeeping ----------------------------------------------------------------------------

    def _schedule_tick(self) -> None:
        """A one-second heartbeat of the loop itself: the liveness probe watches it."""
        self._state.tick()
        self._connection.ioloop.call_later(1.0, self._schedule_tick)

    def _close_connection(self) -> None:
        if self._connection is None:
            return
        if self._connection.is_closing or self._connection.is_closed:
            self._connection.ioloop.stop()
        else:
            self._connection.close()


class ConsumerState:
    """What the consumer's probes report, updated by the consume loop."""

    def __init__(self):
        self.broker_connected = False
        self.database_ok = True
        self.last_tick = time.monotonic()

    def set_broker(self, connected: bool) -> None:
        self.broker_connected = connected

    def tick(self) -> None:
        self.last_tick = time.monotonic()

    def progress(self) -> None:
        self.last_tick = time.monotonic()


class ReconnectingConsumer:
    """Runs `Consumer`s until stopped, reconnecting with capped exponential backoff and jitter.

    The backoff resets after a connection that reached consuming. SIGTERM/SIGINT cancel the
    consumer, settle or return the in-flight batch, and close; the process then exits 0.
    """

    MAX_DELAY = 30.0

    def __init__(self, handle_batch: Callable[[list[Delivery]], list[Outcome]], state: ConsumerState):
        self._handle_batch = handle_batch
        self._state = state
        self._consumer: Consumer | None = None
        self._stopping = threading.Event()
        self._delay = 0.0

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        logger.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self._stopping.set()
        if self._consumer is not None:
            # We are on the main thread, possibly inside the ioloop: schedule, don't re-enter.
            self._consumer.request_stop()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._consumer = Consumer(self._handle_batch, state=self._state)
            self._consumer.run()
            if self._stopping.is_set() or not self._consumer.should_reconnect:
                break
            if self._consumer.was_consuming:
                self._delay = 0.0
            self._delay = min(max(self._delay * 2, 0.5), self.MAX_DELAY)
            wait = self._delay * random.uniform(0.5, 1.0)
            logger.info("reconnecting", extra={"in_seconds": round(wait, 2)})
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not self._stopping.is_set():
                self._state.tick()  # backing off is not being wedged
                self._stopping.wait(0.2)
        logger.info("consumer stopped")


def consume(handle_batch: Callable[[list[Delivery]], list[Outcome]], *, state: ConsumerState | None = None) -> None:
    """Consume the queue with `handle_batch` until SIGTERM/SIGINT, reconnecting as needed."""
    consumer = ReconnectingConsumer(handle_batch, state or ConsumerState())
    consumer.install_signal_handlers()
    consumer.run()


def consume_and_save(*, state: ConsumerState | None = None) -> None:
    """Consume heartbeat messages and apply them to the database (the consumer role)."""
    from watchtime.events.handlers import handle_batch  # the domain handler imports this module

    consume(handle_batch, state=state)
