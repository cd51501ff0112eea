"""Concurrent consumer processes on a shuffled, duplicated backlog: every analytics answer equals
the reference recompute from the event set, as in one process (test_apply)."""

import random

import pytest

from testkit.rabbitmq import queue_depth
from testkit.waiting import wait_until
from tests.accounting import answers, scenarios
from tests.accounting.reference import DAY, compute
from tests.consumers import publish_raw
from watchtime.accounting.audit.concurrency import concurrency_drift
from watchtime.analytics.models import Minute, MovieMinute
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events import messages
from watchtime.events.models import Event, Movie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_three_consumers_give_the_reference_analytics(client_all, queue, consumers):
    rng = random.Random(2024)
    events = scenarios.viewing(rng, users=8, streams=40)
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.create(slug=slug, title=slug, duration=duration)
    publish_raw(queue, [messages.encode(batch) for batch in scenarios.delivered(rng, events)])
    consumers(3)
    distinct = {e.event_id for e in events}
    wait_until(lambda: Event.objects.count() == len(distinct), timeout=120, interval=0.5,
                       message=f"{len(distinct)} events applied")
    wait_until(lambda: queue_depth(queue) == 0, timeout=30, message="queue drained")

    definitions = definitions_from_settings()
    ref = compute(scenarios.reference_events(events), limits=limits_from_settings(),
                  gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)
    keys = [e.key_us for e in scenarios.reference_events(events)]
    shape = {
        "users": sorted({e.user for e in events}), "slugs": sorted(scenarios.DURATIONS),
        "movie_ids": dict(Movie.objects.values_list("slug", "id")), "first_day": min(keys) // DAY,
        "days": max(keys) // DAY - min(keys) // DAY + 1, "min_view": definitions.view.min_view_seconds,
        "ratio": definitions.view.completion_ratio,
    }
    got = answers.api_answers(client_all, **shape)
    want = answers.reference_answers(ref, durations=scenarios.DURATIONS, resolution=definitions.retention_resolution_seconds,
                                     completed_percent=definitions.progress.completed_percent, **shape)
    assert {k: (got[k], want[k]) for k in want if got.get(k) != want[k]} == {}
    # The concurrency history too (minute values per movie and overall, the streams' runs).
    for slug in [None, *scenarios.DURATIONS]:
        rows = Minute.objects.all() if slug is None else MovieMinute.objects.filter(movie__slug=slug)
        assert {m: n for m, n in rows.values_list("minute", "viewers") if n} == ref.minutes(slug)
    assert concurrency_drift(limits=limits_from_settings()) == []
