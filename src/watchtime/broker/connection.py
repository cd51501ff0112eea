"""Connection parameters for RabbitMQ, from `settings.RABBITMQ` (see settings.py)."""

import ssl
import threading

import pika
from django.conf import settings

from watchtime.broker.types import BrokerUnavailable

HEARTBEAT_SECONDS = 30
BLOCKED_CONNECTION_TIMEOUT_SECONDS = 30
SOCKET_TIMEOUT_SECONDS = 5
# Bytes that the peer's kernel has not acknowledged for this long mean a dead path (a network
# blackhole, a vanished node): the kernel fails the socket (TCP_USER_TIMEOUT) instead of
# retransmitting for minutes. Loopback and in-cluster round trips take milliseconds, so 3 s still
# leaves TCP several retransmissions. A frozen broker process still ACKs at the TCP level: the
# heartbeat (and the publisher's confirm timeout) catch that one.
UNACKNOWLEDGED_DATA_TIMEOUT_SECONDS = 3


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
        "heartbeat": HEARTBEAT_SECONDS,
        "blocked_connection_timeout": BLOCKED_CONNECTION_TIMEOUT_SECONDS,
        "connection_attempts": 1,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "tcp_options": {"TCP_USER_TIMEOUT": UNACKNOWLEDGED_DATA_TIMEOUT_SECONDS * 1000},
        "client_properties": {"connection_name": f"watchtime-{threading.current_thread().name}"},
    }
    if cfg["ssl"]:
        options["ssl_options"] = pika.SSLOptions(ssl.create_default_context(), cfg["host"])
    options.update(overrides)
    return pika.ConnectionParameters(**options)
