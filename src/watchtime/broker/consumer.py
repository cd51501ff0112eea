"""Consuming (consumer side), after pika's asynchronous consumer example.

`Consumer` is one connection's worth of consuming; `ReconnectingConsumer` runs it with capped,
jittered backoff until SIGTERM/SIGINT. Deliveries are handed in batches to a handler the caller
gives (`consume(handle_batch)`): this package never imports the domain.
"""

import logging
import random
import signal
import threading
import time
from collections.abc import Callable

import pika
from pika.adapters.select_connection import SelectConnection

from watchtime.broker.batching import Settlement, next_slice, settlement
from watchtime.broker.connection import config, connection_parameters
from watchtime.broker.topology import declare_topology, queue_names
from watchtime.broker.types import Delivery, Outcome, TransientFailure

logger = logging.getLogger(__name__)

BatchHandler = Callable[[list[Delivery]], list[Outcome]]


class Consumer:
    """One connection's worth of consuming, after pika's asynchronous consumer example.

    Deliveries are collected into batches (up to `batch_size`, or whatever arrived within
    `max_wait`) and handed to `handle_batch`, which applies them in one transaction and returns
    one Outcome per delivery. Only then are they settled: dead-letters with
    `nack(requeue=False)`, the rest with one multiple-ack. A message applied but for some bad
    parts is acked only once those parts, published to the dead-letter exchange on this channel
    (in confirm mode), are confirmed; no later batch is settled meanwhile. A TransientFailure keeps
    the batch and retries it after a capped backoff; the prefetch window stops new deliveries meanwhile.
    """

    def __init__(self, handle_batch: BatchHandler, *, state: "ConsumerState"):
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
        # A handled slice (its plan, the publishes it waits for, its size) whose dead letters are not confirmed yet.
        self._unsettled: tuple[Settlement, set[int], int] | None = None
        self._published = 0  # publish sequence numbers on this channel (confirm mode)
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
        self._published = 0
        channel.add_on_close_callback(self.on_channel_closed)
        channel.confirm_delivery(self.on_dead_letter_confirm, callback=lambda _: declare_topology(channel, self.on_topology_ready))

    def on_channel_closed(self, channel, reason) -> None:
        logger.warning("consumer channel closed", extra={"reason": str(reason)})
        self._channel = None
        self._unsettled = None  # its deliveries go back to the queue with the channel
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
        while (self._batch and self._unsettled is None and self._channel is not None and self._channel.is_open
               and not self._stop_requested):
            # After an outage up to `prefetch` messages wait here: apply them in bounded slices.
            count = next_slice(self._batch, max_count=self._batch_size)
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
        plan = settlement(batch, outcomes)
        self._state.tick()
        if not plan.dead_letters:
            self._settle(plan)
            return True
        _, dlx, _ = queue_names(self._queue)
        for letter in plan.dead_letters:
            self._channel.basic_publish(dlx, self._queue, letter.body, pika.BasicProperties(
                content_type=letter.content_type, delivery_mode=pika.DeliveryMode.Persistent,
                headers={"x-watchtime-dead-letter-reason": letter.reason[:1000]}))
        first = self._published + 1
        self._published += len(plan.dead_letters)
        self._unsettled = (plan, set(range(first, self._published + 1)), len(batch))
        return False  # settled (and the rest of the batch flushed) once they are confirmed

    def on_dead_letter_confirm(self, frame) -> None:
        if self._unsettled is None:
            return
        plan, waiting, count = self._unsettled
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            # Not known to be stored: hand the slice back with the channel (at-least-once: its
            # good events are duplicates when they come again, its bad ones dead-lettered again).
            logger.warning("dead letter not confirmed; returning the batch to the queue")
            self._unsettled = None
            self._channel.close()
            return
        waiting.difference_update({t for t in waiting if t <= method.delivery_tag} if method.multiple else {method.delivery_tag})
        if not waiting:
            self._unsettled = None
            self._settle(plan)
            del self._batch[:count]
            self.flush()

    def _settle(self, plan: Settlement) -> None:
        for tag in plan.dead_letter_tags:
            self._channel.basic_nack(tag, multiple=False, requeue=False)
        if plan.ack_through is not None:
            self._channel.basic_ack(plan.ack_through, multiple=True)

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
        self.last_tick = time.monotonic()

    def set_broker(self, connected: bool) -> None:
        self.broker_connected = connected

    def tick(self) -> None:
        """The loop is alive: it made progress or idled (the liveness probe watches this)."""
        self.last_tick = time.monotonic()


class ReconnectingConsumer:
    """Runs `Consumer`s until stopped, reconnecting with capped exponential backoff and jitter.

    The backoff resets after a connection that reached consuming. SIGTERM/SIGINT cancel the
    consumer, settle or return the in-flight batch, and close; the process then exits 0.
    """

    MAX_DELAY = 30.0

    def __init__(self, handle_batch: BatchHandler, state: ConsumerState):
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


def consume(handle_batch: BatchHandler, *, state: ConsumerState | None = None) -> None:
    """Consume the queue with `handle_batch` until SIGTERM/SIGINT, reconnecting as needed."""
    consumer = ReconnectingConsumer(handle_batch, state or ConsumerState())
    consumer.install_signal_handlers()
    consumer.run()
