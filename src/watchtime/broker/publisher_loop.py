"""The publisher's I/O thread: its one connection, reconnecting, the channel in confirm mode and
its topology, the broker's blocks and unblocks, confirms and returns. It reports to the circuit
(circuit.py) and the confirm bookkeeping (confirms.py); publishing itself is in publisher.py."""

import logging
import random
import threading
import time

import pika
from pika.adapters.select_connection import SelectConnection

from watchtime.broker.circuit import Circuit
from watchtime.broker.confirms import Confirms
from watchtime.broker.connection import config, connection_parameters
from watchtime.broker.gathering import Gathering
from watchtime.broker.topology import declare_topology
from watchtime.broker.types import BrokerUnavailable

logger = logging.getLogger("watchtime.broker.publisher")

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


class PublisherLoop:
    """The connection side of a process's publisher (see Publisher)."""

    def __init__(self):
        self._circuit = Circuit()
        self._created = time.monotonic()
        self._connected_once = threading.Event()
        self._failed_probes = 0
        self._stop = threading.Event()
        # Guards the gathering together with the circuit check in publish(): a part is either
        # gathered while the circuit is closed, or refused; never left in a dead loop.
        self._lock = threading.Lock()
        cfg = config()
        self._gathering = Gathering(cfg.get("group_items", 1))  # parts not yet handed to the connection
        self._group_wait = cfg.get("group_wait", 0.0)
        self._confirms = Confirms()  # handed to the connection, waiting for the confirm (I/O thread)
        self._connection: SelectConnection | None = None
        self._channel = None
        self._thread = threading.Thread(target=self._run, name="rabbitmq-publisher", daemon=True)
        self._thread.start()

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
        with self._lock:  # after the circuit opened: nothing new can be gathered behind this
            groups = self._gathering.give_up()
        for group in groups:
            group.settle(BrokerUnavailable(reason))
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

    def _close_connection(self) -> None:
        if self._connection.is_open:
            self._connection.close()
        else:
            self._connection.ioloop.stop()

    def _on_return(self, _channel, _method, properties, _body) -> None:
        self._confirms.returned(int(properties.correlation_id))

    def _on_confirm(self, frame) -> None:
        method = frame.method
        self._confirms.confirm(method.delivery_tag, multiple=method.multiple,
                               acked=isinstance(method, pika.spec.Basic.Ack))
