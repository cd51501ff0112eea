"""Group commit against the machine's RabbitMQ: a lone request goes at once (nothing awaits a
confirm, so waiting gains nothing), and concurrent requests share messages, every one answered
with its own outcome and every item delivered once."""

import json
import threading
import time
import uuid

import pika
import pytest
from django.test import override_settings

from testkit.rabbitmq import RABBITMQ_URL, broker_settings, queue_depth
from testkit.waiting import wait_until
from watchtime.broker.publisher import Publisher

pytestmark = pytest.mark.integration


def combine(bodies: list[bytes]) -> bytes:
    return json.dumps([item for body in bodies for item in json.loads(body)]).encode()


def drained(queue: str) -> list[list]:
    with pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)) as connection:
        channel = connection.channel()
        bodies = []
        while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
            bodies.append(json.loads(got[2]))
        return bodies


def test_a_lone_request_is_published_at_once_whatever_the_group_wait(queue):
    with override_settings(RABBITMQ=broker_settings(queue, group_items=1000, group_wait=3.0)):
        publisher = Publisher()
        try:
            publisher.publish_part(json.dumps(["warm-up"]).encode(), items=1, combine=combine, content_type="application/json")
            began = time.monotonic()
            publisher.publish_part(json.dumps(["alone"]).encode(), items=1, combine=combine, content_type="application/json")
            waited = time.monotonic() - began
        finally:
            publisher.close()
    assert waited < 1.5, f"a lone request waited {waited:.2f} s: the 3 s group wait, not its confirm"
    wait_until(lambda: queue_depth(queue) == 2, timeout=10, message="two messages")
    assert drained(queue) == [["warm-up"], ["alone"]]


def test_concurrent_requests_share_messages_and_each_item_arrives_once(queue):
    items = [str(uuid.uuid4()) for _ in range(200)]
    errors = []
    with override_settings(RABBITMQ=broker_settings(queue, group_items=1000, group_wait=0.05)):
        publisher = Publisher()

        def send(item):
            try:
                publisher.publish_part(json.dumps([item]).encode(), items=1, combine=combine, content_type="application/json")
            except Exception as exc:  # every request must get its own success
                errors.append(exc)

        try:
            threads = [threading.Thread(target=send, args=(item,)) for item in items]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        finally:
            publisher.close()
    assert errors == []
    wait_until(lambda: queue_depth(queue) > 0, timeout=10, message="messages queued")
    messages = drained(queue)
    assert sorted(item for body in messages for item in body) == sorted(items)
    assert len(messages) < len(items), "requests arriving while a message awaited its confirm were gathered"
