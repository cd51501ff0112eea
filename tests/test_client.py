"""watchtime.client against real APIs (batching, drops, 429 and 503 retried with the same
event_ids), and its pure parts: batches, backoff, Retry-After."""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.stacks import start_embedded, stop_embedded
from watchtime import client as wt
from watchtime.client import Client

T0 = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


def beats(user: str, count: int, *, step: int = 10, session: str = "server-1") -> list[dict]:
    """A forward play: `count` heartbeats `step` s apart, worth (count - 1) * step."""
    return [{"user": user, "slug": "heat", "at": i * step, "session": session,
             "ts": (T0 + timedelta(seconds=i * step)).isoformat().replace("+00:00", "Z")} for i in range(count)]


@pytest.mark.integration
class TestAgainstTheApi:
    def test_batches_of_1000_and_the_total_follows(self, embedded_api):
        events = beats("client-batches", 2500, step=30)
        result = Client(embedded_api.base_url, embedded_api.ingest_key).send(events)
        assert (len(result.accepted), result.requests, result.retries, result.dropped) == (2500, 3, 0, [])
        assert "event_id" not in events[0]  # the caller's dicts are left alone
        stored = {event["event_id"] for event in embedded_api.user_events("client-batches")}
        assert stored == set(result.accepted)
        assert embedded_api.user_total("client-batches") == 2499 * 30

    def test_a_400_drops_only_the_events_it_names(self, embedded_api, caplog):
        events = beats("client-partial", 4)
        events[2]["at"] = -1
        with caplog.at_level(logging.WARNING, logger="watchtime.client"):
            result = Client(embedded_api.base_url, embedded_api.ingest_key).send(events)
        assert [event["at"] for event, _ in result.dropped] == [-1]
        assert result.dropped[0][1] == "400 invalid"
        assert (len(result.accepted), result.requests, result.retries) == (3, 2, 0)
        assert "refused 1 event(s)" in caplog.text
        assert embedded_api.user_total("client-partial") == 30  # 0, 10, 30: the pair 10 -> 30 earns min(20, 21)

    def test_an_unknown_key_is_dropped_not_retried(self, embedded_api):
        result = Client(embedded_api.base_url, "wt_nosuch1_" + "x" * 24).send(beats("client-401", 3))
        assert (result.accepted, result.requests, result.retries) == ([], 1, 0)
        assert {reason for _, reason in result.dropped} == {"401 authentication_failed"}
        assert embedded_api.user_total("client-401") is None

    def test_503_is_retried_with_the_same_event_ids_until_the_broker_is_back(self, full_stack):
        api, relay = full_stack.relayed_api, full_stack.relay
        events = [{**event, "event_id": f"00000000-0000-4000-8000-{i:012d}"} for i, event in
                  enumerate(beats("client-503", 10))]
        relay.cut()
        restorer = threading.Timer(6, relay.restore)
        restorer.start()
        started = time.monotonic()
        try:
            result = Client(api.base_url, api.ingest_key).send(events)
        finally:
            restorer.join()
        assert time.monotonic() - started >= 5  # the 503's Retry-After
        assert result.retries >= 1 and result.requests == result.retries + 1
        assert result.accepted == [event["event_id"] for event in events]
        stored = _wait_for(lambda: api.user_events("client-503"), 10)
        assert sorted(event["event_id"] for event in stored) == result.accepted
        assert api.user_total("client-503") == 90

    def test_gives_up_with_the_undelivered_events_and_their_ids(self, full_stack):
        api, relay = full_stack.relayed_api, full_stack.relay
        relay.cut()
        try:
            with pytest.raises(wt.DeliveryError) as raised:
                Client(api.base_url, api.ingest_key, give_up_after=3).send(beats("client-give-up", 2))
        finally:
            relay.restore()
        undelivered = raised.value.undelivered
        assert [event["at"] for event in undelivered] == [0, 10] and all(event["event_id"] for event in undelivered)
        retried = Client(api.base_url, api.ingest_key, give_up_after=60).send(undelivered)
        assert retried.accepted == [event["event_id"] for event in undelivered]


@pytest.fixture(scope="module")
def rate_limited_api(tmp_path_factory):
    api = start_embedded(tmp_path_factory.mktemp("rate-limited-api"), WATCHTIME_RATE_LIMIT="2/s")
    yield api
    stop_embedded(api)


@pytest.mark.integration
def test_429_waits_for_retry_after(rate_limited_api):
    api = rate_limited_api
    client = Client(api.base_url, api.ingest_key)
    started = time.monotonic()
    # Five one-event requests within about a second: some window of 1 s sees a third one.
    results = [client.send([event]) for event in beats("client-429", 5)]
    assert sum(r.retries for r in results) >= 1
    assert time.monotonic() - started >= 1  # Retry-After: the rest of the window, at least 1 s
    assert [len(r.accepted) for r in results] == [1] * 5
    assert api.user_total("client-429") == 40


def _wait_for(fetch, count, timeout=30):
    deadline = time.monotonic() + timeout
    while len(value := fetch()) < count and time.monotonic() < deadline:
        time.sleep(0.3)
    return value


@pytest.mark.unit  # no services, no processes
class TestPureParts:
    def test_batches_by_count_and_by_size(self):
        small = [{"n": i} for i in range(2001)]
        assert [len(b) for b in wt.batches(small)] == [1000, 1000, 1]
        large = [{"user": "é" * 150, "pad": "x" * 2000} for _ in range(1000)]  # ~2.3 kB each
        sizes = [len(b) for b in wt.batches(large)]
        assert sum(sizes) == 1000 and len(sizes) == 3
        assert all(len(wt.json.dumps(b, ensure_ascii=False).encode()) <= wt.MAX_BODY_BYTES for b in wt.batches(large))

    def test_backoff_grows_capped_and_never_before_retry_after(self):
        assert 0.5 <= wt.retry_delay(1, None, 60) <= 1
        assert 4 <= wt.retry_delay(4, None, 60) <= 8
        assert 30 <= wt.retry_delay(30, None, 60) <= 60
        assert wt.retry_delay(1, 5.0, 60) == 5.0
        assert wt.retry_delay(1, 120.0, 60) == 120.0  # the server's word beats our cap

    def test_retry_after_forms(self):
        assert wt.retry_after_seconds("5") == 5
        assert wt.retry_after_seconds(None) is None and wt.retry_after_seconds("soon") is None
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        assert 28 <= wt.retry_after_seconds(later) <= 30

    def test_which_answers_are_retried(self):
        assert [s for s in (0, 200, 400, 401, 403, 404, 408, 413, 429, 500, 503) if wt.retryable(s)] == [
            0, 408, 429, 500, 503]
