"""Retention: a prune removes old events while every total and analytics figure stays exactly as
it was; later events, late ones on both sides of the horizon included, still credit exactly;
verify and recompute work from what is kept plus what was folded."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from tests.accounting import answers, scenarios
from tests.accounting.horizon import first_partitioned_day, stream_at_horizon
from tests.accounting.reference import DAY, compute
from watchtime.accounting import retention
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.analytics import analytics_drift, analytics_recompute
from watchtime.accounting.audit.totals import totals_drift, totals_recompute
from watchtime.accounting.ingest import events_ingest
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.errors import DomainError
from watchtime.events import partitions
from watchtime.events.models import Event, Movie
from watchtime.events.validation import EventIn
from watchtime.timestamps import to_us

pytestmark = pytest.mark.django_db


def clean() -> list[str]:
    limits, definitions = limits_from_settings(), definitions_from_settings()
    return totals_drift(limits=limits) + analytics_drift(limits=limits, definitions=definitions)


def shape_of(events, first_day, days):
    definitions = definitions_from_settings()
    return {
        "users": sorted({e.user for e in events}), "slugs": sorted(scenarios.DURATIONS),
        "movie_ids": dict(Movie.objects.values_list("slug", "id")), "first_day": first_day, "days": days,
        "min_view": definitions.view.min_view_seconds, "ratio": definitions.view.completion_ratio,
    }


def reference_of(events, shape):
    definitions = definitions_from_settings()
    ref = compute(scenarios.reference_events(events), limits=limits_from_settings(),
                  gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)
    return answers.reference_answers(ref, durations=scenarios.DURATIONS, resolution=definitions.retention_resolution_seconds,
                                     completed_percent=definitions.progress.completed_percent, **shape)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prune_keeps_every_figure_and_later_events_still_credit_exactly(client_all, seed):
    rng = random.Random(seed)
    day0 = first_partitioned_day()
    t0 = datetime(day0.year, day0.month, day0.day, 18, tzinfo=UTC)
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.create(slug=slug, title=slug, duration=duration)
    events = scenarios.viewing(rng, users=5, streams=12, t0=t0)
    horizon_day = day0 + timedelta(days=1)
    horizon = partitions.day_start_us(horizon_day)
    # Late events on both sides of the horizon arrive after the prune: hold back 15 % of each side.
    late = [e for e in events if rng.random() < 0.15]
    late_ids = {e.event_id for e in late}
    for batch in scenarios.delivered(rng, [e for e in events if e.event_id not in late_ids]):
        events_apply(events=batch)
    keys = [to_us(e.ts or e.received_at) for e in events]
    first_day, days = min(keys) // DAY, max(keys) // DAY - min(keys) // DAY + 2
    shape = shape_of(events, first_day, days)
    before = answers.api_answers(client_all, **shape)

    result = retention.prune(before=horizon_day, limits=limits_from_settings(), definitions=definitions_from_settings())
    assert result.partitions_dropped >= 1 and result.events_deleted > 0
    assert not Event.objects.filter(sort_us__lt=horizon).exists()
    assert answers.api_answers(client_all, **shape) == before
    assert clean() == []

    # The held-back events: those older than the horizon are dropped (they cannot be placed), the
    # others credit exactly, also where their predecessor was pruned.
    outcome = events_apply(events=late)
    too_old = [e for e in late if to_us(e.ts or e.received_at) < horizon]
    assert outcome.too_old == len(too_old)
    counted = [e for e in events if e.event_id not in {t.event_id for t in too_old}]
    want = reference_of(counted, shape)
    got = answers.api_answers(client_all, **shape)
    assert {k: (got[k], want[k]) for k in want if got.get(k) != want[k]} == {}
    assert clean() == []

    # recompute from what is kept plus what was folded changes nothing.
    totals_recompute(limits=limits_from_settings())
    analytics_recompute(limits=limits_from_settings(), definitions=definitions_from_settings())
    assert answers.api_answers(client_all, **shape) == got
    assert clean() == []


def test_a_prune_is_idempotent_and_a_second_one_folds_onto_the_first(client_all):
    rng = random.Random(7)
    day0 = first_partitioned_day()
    t0 = datetime(day0.year, day0.month, day0.day, 20, tzinfo=UTC)
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.create(slug=slug, title=slug, duration=duration)
    events = scenarios.viewing(rng, users=4, streams=10, t0=t0)
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    keys = [to_us(e.ts or e.received_at) for e in events]
    shape = shape_of(events, min(keys) // DAY, max(keys) // DAY - min(keys) // DAY + 1)
    want = answers.api_answers(client_all, **shape)
    limits, definitions = limits_from_settings(), definitions_from_settings()
    for day in (day0 + timedelta(days=1), day0 + timedelta(days=1), day0 + timedelta(days=2)):
        retention.prune(before=day, limits=limits, definitions=definitions)
        assert answers.api_answers(client_all, **shape) == want
        assert clean() == []


@override_settings(WATCHTIME_EVENT_RETENTION_DAYS=30)
def test_an_event_older_than_the_retention_is_refused_at_ingest_and_dropped_when_applied():
    now = datetime.now(UTC)
    old = EventIn(uuid.uuid4(), "alice", "heat", 0, "", now - timedelta(days=31), now)
    fresh = EventIn(uuid.uuid4(), "alice", "heat", 0, "", now - timedelta(days=1), now)
    with pytest.raises(DomainError) as refused:
        events_ingest(events=[fresh, old])
    assert refused.value.code == "too_old" and refused.value.status == 400
    assert list(refused.value.details["items"]) == ["1"]
    assert not Event.objects.exists()  # nothing of the request was accepted
    result = events_apply(events=[fresh, old])  # e.g. queued before the horizon moved past it
    assert result.too_old == 1 and [e.event_id for e in result.applied] == [fresh.event_id]


def test_a_late_event_just_after_the_horizon_chains_from_the_pruned_predecessor(client_all):
    """Kept: 30@H+10s, 50@H+30s; pruned: 0@H-20s, 10@H-10s. A late 20@H+5s arrives after the prune:
    the pruned 10@H-10s (the anchor) is its predecessor. Credits by the rule: 0->10: 10,
    10->20: min(10, 16) = 10, 20->30: min(10, 6) = 6, 30->50: min(20, 21) = 20; total 46 (before the
    late event: 10, 10->30: min(20, 21) = 20, 30->50: 20, total 50)."""
    stream = stream_at_horizon()
    beat = stream.beat
    events_apply(events=[beat(0, -20), beat(10, -10), beat(30, 10), beat(50, 30)])
    assert client_all.get("/users/alice/total-watch-time/").json()["total_watch_time"] == 50
    retention.prune(before=stream.day, limits=limits_from_settings(), definitions=definitions_from_settings())
    assert Event.objects.count() == 2 and clean() == []
    events_apply(events=[beat(20, 5)])
    assert client_all.get("/users/alice/total-watch-time/").json()["total_watch_time"] == 46
    assert clean() == []
