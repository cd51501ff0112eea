"""Erasure while events of the user wait in the queue: a real consumer applies the backlog after
the erasure and nothing of the user comes back; the others' figures are exact."""

import random

import pytest
import requests

from testkit.rabbitmq import queue_depth
from testkit.waiting import wait_until
from tests import support
from tests.accounting import scenarios
from tests.accounting.test_erasure import clean
from tests.consumers import publish_raw
from watchtime.events import messages
from watchtime.events.models import CustomUser, Event, Movie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_queued_events_of_an_erased_user_bring_nothing_back(client_all, queue, consumers):
    rng = random.Random(21)
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.create(slug=slug, title=slug, duration=duration)
    events = scenarios.viewing(rng, users=4, streams=12)
    victim = events[0].user
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    publish_raw(queue, [messages.encode(b) for b in scenarios.delivered(rng, first)])
    (consumer,) = consumers(1)
    distinct_first = {e.event_id for e in first}
    wait_until(lambda: Event.objects.count() == len(distinct_first), timeout=60, message="the first half applied")
    support.stop(consumer)

    # The second half is queued (received before the erasure), then the user is erased.
    publish_raw(queue, [messages.encode(b) for b in scenarios.delivered(rng, later)])
    assert client_all.delete(f"/users/{victim}/").status_code == 200
    (consumer,) = consumers(1)
    others = {e.event_id for e in events if e.user != victim}
    wait_until(lambda: queue_depth(queue) == 0 and Event.objects.count() == len(others),
                       timeout=90, message="the backlog applied without the erased user")
    assert not CustomUser.objects.filter(username=victim).exists()
    assert not Event.objects.filter(event_id__in=[e.event_id for e in events if e.user == victim]).exists()
    metrics = requests.get(f"http://127.0.0.1:{consumer.metrics_port}/metrics", timeout=2).text
    suppressed = next(float(line.split()[-1]) for line in metrics.splitlines()
                      if line.startswith('watchtime_events_processed_total{outcome="suppressed"}'))
    assert suppressed >= len({e.event_id for e in later if e.user == victim}) > 0
    assert clean() == []
