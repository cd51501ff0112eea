"""Erasure: the user's data goes and every remaining figure equals a recompute from the remaining
events; queued events of the user cannot bring anything back; suppression refuses later ones."""

import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.accounting import answers, scenarios
from tests.accounting.reference import DAY, compute
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.analytics import analytics_drift
from watchtime.accounting.audit.totals import totals_drift
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import CustomUser, Event, EventId, Movie, Stream, WatchTime
from watchtime.events.validation import EventIn
from watchtime.timestamps import to_us

pytestmark = pytest.mark.django_db


def clean() -> list[str]:
    limits = limits_from_settings()
    return totals_drift(limits=limits) + analytics_drift(limits=limits, definitions=definitions_from_settings())


def compare(client, events, shape) -> dict:
    definitions = definitions_from_settings()
    ref = compute(scenarios.reference_events(events), limits=limits_from_settings(),
                  gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)
    want = answers.reference_answers(ref, durations=scenarios.DURATIONS, resolution=definitions.retention_resolution_seconds,
                                     completed_percent=definitions.progress.completed_percent, **shape)
    got = answers.api_answers(client, **shape)
    return {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}


@pytest.mark.parametrize("seed", [4, 5])
def test_erasure_leaves_exactly_the_recompute_without_the_user(client_all, seed):
    rng = random.Random(seed)
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.create(slug=slug, title=slug, duration=duration)
    events = scenarios.viewing(rng, users=5, streams=16)
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    victim = max({e.user for e in events}, key=lambda u: sum(1 for e in events if e.user == u))
    theirs = [e for e in events if e.user == victim]
    total = CustomUser.objects.get(username=victim).total_watch_time

    response = client_all.delete(f"/users/{victim}/")
    assert response.status_code == 200, response.content
    assert response.json() == {"username": victim, "events_deleted": len({e.event_id for e in theirs}),
                               "watch_time_removed": total,
                               "movies_affected": len({e.slug for e in theirs})}
    assert client_all.delete(f"/users/{victim}/").status_code == 404
    assert not Event.objects.filter(user__username=victim).exists()
    assert not EventId.objects.filter(event_id__in=[e.event_id for e in theirs]).exists()
    assert not CustomUser.objects.filter(username=victim).exists()

    rest = [e for e in events if e.user != victim]
    keys = [to_us(e.ts or e.received_at) for e in events]
    shape = {"users": sorted({e.user for e in rest}), "slugs": sorted(scenarios.DURATIONS),
             "movie_ids": dict(Movie.objects.values_list("slug", "id")), "first_day": min(keys) // DAY,
             "days": max(keys) // DAY - min(keys) // DAY + 1, "min_view": definitions_from_settings().view.min_view_seconds,
             "ratio": definitions_from_settings().view.completion_ratio}
    assert compare(client_all, rest, shape) == {}
    assert clean() == []

    # A redelivery of the user's events, received before the erasure, brings nothing back.
    outcome = events_apply(events=theirs)
    assert outcome.suppressed == len({e.event_id for e in theirs}) and outcome.applied == []
    assert not CustomUser.objects.filter(username=victim).exists() and clean() == []


def test_suppression_refuses_later_events_until_lifted(client_all, make_client):
    now = timezone.now()

    def beat(at, seconds_ago, user="carol"):
        return EventIn(uuid.uuid4(), user, "heat", at, "", now - timedelta(seconds=seconds_ago), now)

    events_apply(events=[beat(0, 60), beat(10, 50)])
    assert client_all.delete("/users/carol/?suppress=true").json()["events_deleted"] == 2
    later = [beat(20, 40), beat(30, 30)]
    later = [EventIn(e.event_id, e.user, e.slug, e.at, e.session, e.ts, now + timedelta(seconds=5)) for e in later]
    assert events_apply(events=later).suppressed == 2
    assert not CustomUser.objects.filter(username="carol").exists()
    assert make_client("read").delete("/users/carol/suppression/").status_code == 403  # admin only
    assert client_all.delete("/users/carol/suppression/").status_code == 204
    assert client_all.delete("/users/carol/suppression/").status_code == 404
    after = EventIn(uuid.uuid4(), "carol", "heat", 40, "", now, now + timedelta(seconds=10))
    assert len(events_apply(events=[after]).applied) == 1
    assert CustomUser.objects.get(username="carol").total_watch_time == 0  # a new first event: a baseline
    assert clean() == []


def test_erasure_needs_the_admin_scope_and_knows_only_viewers(make_client, client_all):
    events_apply(events=[EventIn(uuid.uuid4(), "dave", "heat", 0, "", None, timezone.now())])
    assert make_client("read", "ingest").delete("/users/dave/").status_code == 403
    assert client_all.delete("/users/nobody/").status_code == 404
    assert client_all.delete("/users/dave/?suppress=maybe").status_code == 400
    assert Stream.objects.filter(user__username="dave").exists() and WatchTime.objects.exists()
