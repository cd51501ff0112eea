"""Connection parameters for RabbitMQ, from `settings.RABBITMQ` (see settings.py)."""

import ssl
import threading

import pika
from django.conf import settings

from watchtime.broker.types import BrokerUnavailable

HEARTBEAT_SECONDS = 30
BLOCKED_CONNECTION_TIMEOUT_SECONDS = 30
SOCKET_TIMEOUT_SECONDS = 5


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
        "client_properties": {"connection_name": f"watchtime-{threading.current_thread().name}"},
    }
    if cfg["ssl"]:
        options["ssl_options"] = pika.SSLOptions(ssl.create_default_context(), cfg["host"])
    options.update(overrides)
    return pika.ConnectionParameters(**options)
