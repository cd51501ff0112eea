"""Publishing a backlog with publisher confirms, fast: one SelectConnection, a window of
unconfirmed messages (the broker confirms them batched, `multiple=True`), a nacked message
published again, an unroutable one (returned) an error.

A backlog published without confirms once lost an event in a quick run (nothing queued, nothing
dead-lettered): a drain then never finished. Here a call returns only once the broker has
confirmed every message, so whatever is missing later was lost after the broker took it.
BlockingChannel.confirm_delivery() would wait for each confirm in turn (~1,300 msg/s here);
the product's publisher (watchtime.broker) waits per call too, one thread per message in flight.
"""

import time
from collections.abc import Callable, Sequence

import pika
from pika.adapters.select_connection import SelectConnection

from testkit.rabbitmq import RABBITMQ_URL

PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json")
WINDOW = 2000  # unconfirmed messages in flight


class PublishFailed(RuntimeError):
    pass


class _Run:
    def __init__(self, queue: str, count: int, body: Callable[[int], bytes], window: int, rate: float | None):
        self.queue, self.count, self.body, self.window, self.rate = queue, count, body, window, rate
        self.next = 0  # the next message index never published
        self.retry: list[int] = []  # nacked: published again
        self.pending: dict[int, int] = {}  # delivery tag -> message index
        self.low = 1  # no unsettled tag below this one
        self.tag = 0
        self.confirmed = self.nacked = 0
        self.error: str | None = None
        self.started = 0.0
        self.channel = None
        self.connection = None
        self.timer = None

    def run(self, timeout: float) -> None:
        self.connection = SelectConnection(
            pika.URLParameters(RABBITMQ_URL),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda _c, err: self._fail(f"cannot connect: {err!r}"),
            on_close_callback=lambda c, reason: self._closed(reason),
        )
        self.connection.ioloop.call_later(timeout, lambda: self._fail(f"not every confirm within {timeout} s"))
        self.connection.ioloop.start()
        self.connection.ioloop.close()
        if self.error:
            raise PublishFailed(f"{self.error} ({self.progress()})")

    def progress(self) -> str:
        return (
            f"{self.confirmed} of {self.count} confirmed, {len(self.pending)} awaiting a confirm, "
            f"{self.nacked} nacked and published again, {self.count - self.next} never published"
        )

    def done(self) -> bool:
        return self.confirmed >= self.count

    def _on_channel(self, channel) -> None:
        self.channel = channel
        channel.add_on_return_callback(lambda _ch, _m, props, _b: self._fail(f"message {props.message_id} returned: unroutable"))
        channel.add_on_close_callback(lambda _ch, reason: self._fail(f"channel closed: {reason!r}"))
        self.started = time.perf_counter()
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._pump())

    def _pump(self) -> None:
        self.timer = None
        if self.error or self.channel is None:
            return
        while len(self.pending) < self.window:
            if self.retry:
                index = self.retry.pop()
            elif self.next < self.count:
                if self.rate:
                    delay = self.started + self.next / self.rate - time.perf_counter()
                    if delay > 0:
                        if self.timer is None:
                            self.timer = self.connection.ioloop.call_later(delay, self._pump)
                        return
                index = self.next
                self.next += 1
            else:
                return
            self.tag += 1
            self.pending[self.tag] = index
            props = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json", message_id=str(index)
            )
            self.channel.basic_publish("", self.queue, self.body(index), props, mandatory=True)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            tags = range(self.low, method.delivery_tag + 1)
        else:
            tags = (method.delivery_tag,)
        for tag in tags:
            index = self.pending.pop(tag, None)
            if index is None:
                continue
            if acked:
                self.confirmed += 1
            else:
                self.nacked += 1
                self.retry.append(index)
        while self.low <= self.tag and self.low not in self.pending:
            self.low += 1
        if self.done():
            self.connection.close()
        else:
            self._pump()

    def _fail(self, reason: str) -> None:
        if self.error is None and not self.done():
            self.error = reason
        if self.connection.is_open:
            self.connection.close()
        elif not self.connection.is_closing:
            self.connection.ioloop.stop()

    def _closed(self, reason) -> None:
        if not self.done() and self.error is None:
            self.error = f"connection closed: {reason!r}"
        self.connection.ioloop.stop()


def publish(
    queue: str,
    bodies: Sequence[bytes] | Callable[[int], bytes],
    *,
    count: int | None = None,
    rate: float | None = None,
    window: int = WINDOW,
    timeout: float = 600,
) -> int:
    """Publish `bodies` (or `count` bodies made by `bodies(i)` when each is due) persistent, with
    confirms; at `rate` messages/s when given. Returns the number confirmed; raises PublishFailed
    saying how far it got."""
    if callable(bodies):
        make, total = bodies, count
    else:
        make, total = bodies.__getitem__, len(bodies) if count is None else count
    if not total:
        return 0
    run = _Run(queue, total, make, window, rate)
    run.run(timeout)
    return run.confirmed
