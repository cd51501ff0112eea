"""Helpers for tests that run the service's real processes."""

import os
import random
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pika
from django.db import connection

WATCHTIME = str(Path(sys.executable).with_name("watchtime"))
RABBITMQ_URL = os.environ.get("WATCHTIME_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


# Below Linux's ephemeral range (32768-60999), so no outgoing connection of any process can take
# the port between choosing it and the server binding it.
PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, never handed out twice in this process."""
    while True:
        port = random.randint(*PORT_RANGE)
        if port in _handed_out:
            continue
        with closing(socket.socket()) as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def broker_settings(queue: str, **overrides) -> dict:
    """settings.RABBITMQ for the machine's broker and a test-owned queue."""
    params = pika.URLParameters(RABBITMQ_URL)
    return {
        "host": params.host,
        "port": params.port,
        "virtual_host": params.virtual_host,
        "username": params.credentials.username,
        "password": params.credentials.password,
        "ssl": False,
        "queue": queue,
        "publish_timeout": 5,
        "prefetch": 1000,
        "batch_size": 500,
        **overrides,
    }


def declare_queues(channel, queue: str) -> None:
    """The product's topology, declared from a blocking channel (as the consumer would)."""
    from watchtime.broker import queue_arguments, queue_names

    _, dlx, dead_letter_queue = queue_names(queue)
    channel.exchange_declare(dlx, "fanout", durable=True)
    channel.queue_declare(dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dead_letter_queue, dlx)
    channel.queue_declare(queue, durable=True, arguments=queue_arguments(queue))


def delete_queues(queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = conn.channel()
        for name in (queue, f"{queue}.dead-letter"):
            channel.queue_delete(name)
        channel.exchange_delete(f"{queue}.dlx")
    finally:
        conn.close()


def queue_depth(queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def service_env(queue: str, **extra) -> dict:
    """Environment for a service process on the current (test) database and `queue`."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "RABBITMQ_URL": RABBITMQ_URL,
        "WATCHTIME_QUEUE": queue,
        "WATCHTIME_METRICS_PORT": str(free_port()),
        "WATCHTIME_LOG_LEVEL": "WARNING",
        **extra,
    }


def start(role: str, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([WATCHTIME, role, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen, timeout: float = 20) -> tuple[int, str]:
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output
