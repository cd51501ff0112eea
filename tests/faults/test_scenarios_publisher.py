"""Two broker faults that leave connections open but useless to the publisher, under load: a
resource alarm (the broker blocks publishers) and a network blackhole (packets dropped, no reset).
Each ends with the ledger check in conftest.Scenario.finish. Besides the load, a prober starts
posting fresh events into the fault and gives up every request answered 503 "nothing was
accepted": one of those applied anyway fails the check (applied after 503)."""

import statistics
import time
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from testkit.waiting import wait_until
from tests.faults.stack import API_KEY

pytestmark = [pytest.mark.slow]

PUBLISH_TIMEOUT_SECONDS = 5  # the service's default WATCHTIME_PUBLISH_TIMEOUT_SECONDS
# Longer than any answer that did not wait on the broker, even on a loaded machine; shorter than
# the publisher's unacknowledged-data timeout (3 s) and confirm timeout (5 s).
HELD_SECONDS = 2.0
ALARM_SECONDS = 6
BLACKHOLE_SECONDS = 30
IDLE_DETECTION_SECONDS = 12  # heartbeat/2 (5 s) + unacknowledged-data timeout (3 s), with room
API_WORKERS = 2  # the fault stack's WEB_CONCURRENCY


def first(answers, predicate):
    return next((a for a in sorted(answers, key=lambda a: a.started) if predicate(a)), None)


def broker_dependency_up(s) -> float | None:
    text = requests.get(f"http://127.0.0.1:{s.stack.api.metrics_port}/metrics", timeout=2).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "watchtime_dependency_up" and sample.labels.get("dependency") == "broker":
                return sample.value
    return None


def api_readiness(s) -> tuple[int | None, str]:
    try:
        response = requests.get(f"{s.stack.api_url}/readyz", timeout=2)
        return response.status_code, response.json()["checks"]["broker"]
    except requests.RequestException as exc:
        return None, type(exc).__name__


def read_status(s) -> int | None:
    try:
        return requests.get(f"{s.stack.api_url}/?page_size=1", headers={"Authorization": f"Bearer {API_KEY}"},
                            timeout=5).status_code
    except requests.RequestException:
        return None


def wait_for_202_after(load, moment: float, timeout: float = 60) -> None:
    wait_until(lambda: first(load.result.answers, lambda a: a.status == 202 and a.started > moment)
               or load.progress() == 1, timeout=timeout, message="a 202 after the fault")


def test_resource_alarm_refuses_at_once_and_applies_nothing_it_refused(scenario):
    """The node's memory alarm mid-load: ingest answers 503 at once and hands nothing to the blocked
    connections, reads keep working, and after the alarm clears nothing refused is applied."""
    s = scenario("7-resource-alarm", seed=7, consumers=2)
    watermark = s.rabbit.memory_high_watermark()
    load = s.start_load()
    load.wait_progress(0.2)
    raised = time.monotonic()
    s.rabbit.set_memory_high_watermark("0.00001")
    prober = s.start_prober()
    readiness, dependency, reads = [], [], []
    try:
        # The node raises the alarm within a second or two; a connection is blocked at its next publish.
        blocked = wait_until(lambda: first(load.result.answers, lambda a: a.started > raised
                                           and a.code == "broker_unavailable"), timeout=30, interval=0.05,
                             message="a 503 'nothing was accepted' under the alarm").started
        while time.monotonic() - blocked < ALARM_SECONDS:
            readiness.append(api_readiness(s))
            dependency.append(broker_dependency_up(s))
            reads.append(read_status(s))
            time.sleep(0.3)
    finally:
        cleared = time.monotonic()
        s.rabbit.set_memory_high_watermark(watermark)
    wait_for_202_after(load, cleared)
    row = s.finish()

    answers = [a for a in load.result.answers + prober.answers if not a.impatient]
    alarm = [a for a in answers if a.finished > raised and a.started < cleared]
    during = [a for a in alarm if a.started >= blocked and a.finished <= cleared]
    refusals = sorted(a.seconds for a in during if a.code == "broker_unavailable")
    unconfirmed = [a for a in alarm if a.code == "broker_unconfirmed"]
    # The node tells each connection of its alarm on its own, so another API worker may still have
    # had a publish confirmed just after the first refusal: at most what it had in flight.
    passed = [a for a in during if a.status == 202]
    assert during and {a.status for a in during} <= {202, 503}, {a.status for a in during}
    assert len(passed) <= API_WORKERS * (load.threads + 1), [(a.started - blocked, a.seconds) for a in passed]
    assert all(a.retry_after and int(a.retry_after) > 0 for a in during if a.status == 503)
    # Refused at once: nothing waited for a confirm. Only what was handed over before a
    # connection's block arrived is "not known to be stored": at most one request per client
    # and API worker, never a steady stream.
    assert statistics.median(refusals) < 0.5, refusals
    assert refusals[-1] < PUBLISH_TIMEOUT_SECONDS, refusals
    assert len(unconfirmed) <= API_WORKERS * (load.threads + 1), [(a.started - raised, a.seconds) for a in unconfirmed]
    # The API stays ready for reads (the alarm blocks every publisher alike) and says why it refuses.
    assert {status for status, _ in readiness} == {200}, readiness
    assert any("blocks publishing" in detail for _, detail in readiness), readiness
    assert 0 in dependency, f"watchtime_dependency_up{{dependency='broker'}} while blocked: {dependency}"
    assert set(reads) == {200}, reads
    refused_events = len(prober.refused)
    assert refused_events > 0 and row.applied_after_503 == 0
    row.figures = (f"blocked {cleared - blocked:.0f} s: {len(during)} answers, {len(during) - len(passed)} of "
                   f"them 503 (refusals p50 "
                   f"{statistics.median(refusals) * 1000:.0f} ms, max {refusals[-1] * 1000:.0f} ms), "
                   f"{len(unconfirmed)} 'not known to be stored'; {refused_events} probe events given up after "
                   f"'nothing was accepted', 0 of them applied; reads 200, /readyz 200, dependency_up 0")
    print(row.figures)


def test_blackhole_fails_fast_after_the_first_request_and_recovers(scenario):
    """A 30 s network blackhole on the broker's port mid-load: a publisher notices its dead
    connection at its first unacknowledged publish, answers every later request 503 at once, and
    publishes again within seconds of the network's return."""
    s = scenario("8-blackhole", seed=8, consumers=2)
    api_pid = s.stack.api.pid
    load = s.start_load()
    load.wait_progress(0.3)
    readiness = []
    with s.rabbit.blackhole():
        hole = time.monotonic()
        prober = s.start_prober()
        while time.monotonic() - hole < BLACKHOLE_SECONDS:
            readiness.append((time.monotonic(), api_readiness(s)[0]))
            time.sleep(0.5)
        back = time.monotonic()
    wait_for_202_after(load, back)
    consumers_back = []
    for consumer in s.stack.running_consumers():
        s.stack.wait_consumer_ready(consumer, timeout=90)
        consumers_back.append(time.monotonic() - back)
    row = s.finish()

    answers = [a for a in load.result.answers + prober.answers if not a.impatient]
    outage = [a for a in answers if a.finished > hole and a.started < back]
    assert not [a for a in outage if a.started > hole and a.status == 202], "no 202 through a blackhole"
    # No request held past the first. A publisher notices its dead connection at the first publish
    # that nobody acknowledges (3 s), or, idle, at its next heartbeat (within 5 + 3 s): only what
    # is in flight until then waits for it, at most one request per client thread and API worker.
    # Once every publisher has noticed, every request is answered at once.
    held = [a for a in outage if a.seconds > HELD_SECONDS]
    held_per_client = max(Counter(a.thread for a in held).values(), default=0)
    noticed = hole + IDLE_DETECTION_SECONDS
    later = [a for a in outage if a.started > noticed]
    assert later, "requests were sent during the blackhole"
    assert max(a.seconds for a in later) < HELD_SECONDS, sorted(a.seconds for a in later)[-5:]
    assert len(held) <= API_WORKERS * (load.threads + 1), [(a.started - hole, a.seconds) for a in held]
    assert held_per_client <= API_WORKERS, [(a.thread, a.started - hole, a.seconds) for a in held]
    assert all(a.seconds < PUBLISH_TIMEOUT_SECONDS + 1 for a in held), [a.seconds for a in held]
    detected = first(outage, lambda a: a.status == 503 and a.started > hole)
    not_ready = [t for t, status in readiness if status == 503]
    assert not_ready, "the API reports not ready while its connection is dead"
    # Recovery: a 202 again within seconds of the network's return, from every API worker.
    recovered = first(answers, lambda a: a.status == 202 and a.started > back)
    last_refusal = max((a.finished for a in answers if a.status == 503 and a.started > back), default=back)
    assert recovered is not None and recovered.finished - back < 20, "202 again after the blackhole"
    assert last_refusal - back < 20
    assert s.stack.api.pid == api_pid and s.stack.api.alive()
    assert prober.refused and row.applied_after_503 == 0
    row.figures = (f"blackhole {back - hole:.0f} s: {len(outage)} answers; {len(held)} requests held "
                   f"(at most {held_per_client} per client), "
                   f"{max((a.seconds for a in held), default=0):.1f} s at most; after {IDLE_DETECTION_SECONDS} s "
                   f"every answer at once (max {max(a.seconds for a in later) * 1000:.0f} ms); first 503 "
                   f"{detected.finished - hole:.1f} s and /readyz 503 {not_ready[0] - hole:.1f} s into it; "
                   f"202 again {recovered.finished - back:.1f} s after the network's return (last 503 "
                   f"{last_refusal - back:.1f} s), consumers ready again after {max(consumers_back):.1f} s; "
                   f"{len(prober.refused)} probe events given up after 'nothing was accepted', 0 of them applied")
    print(row.figures)
