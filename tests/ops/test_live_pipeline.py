"""The live count through API -> RabbitMQ -> real consumer processes -> PostgreSQL: streams played
through two consumers are counted once each, a pause takes its stream out, a late heartbeat with an
older key leaves it in, and every stream leaves when the window passes."""

import time

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from testkit.waiting import wait_until
from tests.conftest import heartbeat
from watchtime.events.models import Event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def live(client: APIClient) -> dict:
    body = client.get("/stats/live/").json()
    return {"viewers": body["viewers"], "movies": {m["slug"]: m["viewers"] for m in body["movies"]}}


def test_consumer_processes_keep_the_live_count(make_client, queue, consumers):
    client = make_client("ingest", "read")
    consumers(2)
    sent = 0
    for i in range(6):  # six streams on two movies, each with two heartbeats 10 s apart, in separate requests
        for second in (0, 10):
            item = heartbeat(user=f"u{i}", slug=f"m{i % 2}", at=second, ts=second, session="s")
            assert client.post("/", item, format="json").status_code == 202
            sent += 1
    wait_until(lambda: Event.objects.count() == sent, timeout=30, message="every heartbeat applied")
    assert live(client) == {"viewers": 6, "movies": {"m0": 3, "m1": 3}}

    # u0 pauses (its position repeats); a late heartbeat of u1 with an older key changes nothing.
    assert client.post("/", heartbeat(user="u0", slug="m0", at=10, ts=20, session="s"), format="json").status_code == 202
    assert client.post("/", heartbeat(user="u1", slug="m1", at=5, ts=5, session="s"), format="json").status_code == 202
    wait_until(lambda: Event.objects.count() == sent + 2, timeout=30, message="the pause and the late heartbeat")
    assert live(client) == {"viewers": 5, "movies": {"m0": 2, "m1": 3}}

    with override_settings(WATCHTIME_LIVE_WINDOW_SECONDS=1):
        time.sleep(1.1)
        assert live(client) == {"viewers": 0, "movies": {}}
