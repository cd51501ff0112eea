"""Fixtures for tests that run consumer processes against the machine's RabbitMQ (a queue of the
test's own, real consumer processes), and publishing raw messages to it."""

import subprocess
import uuid

import pika
import pytest
import requests
from django.test import override_settings

from testkit.rabbitmq import RABBITMQ_URL, broker_settings, declare_queues, delete_queues
from testkit.waiting import wait_until
from tests import support
from watchtime import broker


@pytest.fixture
def queue():
    name = f"watchtime-test-{uuid.uuid4().hex[:10]}"
    with override_settings(RABBITMQ=broker_settings(name)):
        yield name
        broker.close()
    delete_queues(name)


@pytest.fixture
def consumers(queue):
    started: list[subprocess.Popen] = []

    def start(count: int = 1, **env):
        for _ in range(count):
            environment = support.service_env(queue, **env)
            process = support.start("consumer", environment)
            process.metrics_port = int(environment["WATCHTIME_METRICS_PORT"])
            started.append(process)
        for process in started[-count:]:
            wait_until(lambda p=process: _ready(p), timeout=30, message="consumer readiness")
        return started[-count:]

    yield start
    for process in started:
        support.stop(process)


def _ready(process) -> bool:
    assert process.poll() is None, process.stdout.read()
    try:
        return requests.get(f"http://127.0.0.1:{process.metrics_port}/readyz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def publish_raw(queue: str, bodies: list[bytes]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = conn.channel()
        declare_queues(channel, queue)
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    finally:
        conn.close()


