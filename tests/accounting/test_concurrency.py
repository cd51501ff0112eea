"""Property: the concurrency history (minute values per movie and overall, folded quarter peaks)
equals the reference recompute whatever the delivery: shuffled, late, twice, in random batches,
over minute, hour and day boundaries, with seeks and pauses; and after a fold, a prune and an erasure."""

import random

import pytest

from tests.accounting import scenarios
from tests.accounting.reference import compute
from watchtime.accounting.apply import events_apply
from watchtime.analytics.models import Minute, MovieMinute
from watchtime.definitions import definitions_from_settings, limits_from_settings

pytestmark = pytest.mark.django_db


def reference(events):
    definitions = definitions_from_settings()
    return compute(scenarios.reference_events(events), limits=limits_from_settings(),
                   gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)


def stored_minutes(slug: str | None) -> dict[int, int]:
    rows = Minute.objects.all() if slug is None else MovieMinute.objects.filter(movie__slug=slug)
    return {m: n for m, n in rows.values_list("minute", "viewers") if n}


def apply_delivered(rng, events):
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)


@pytest.mark.parametrize("seed", range(8))
def test_minute_values_equal_the_reference_in_any_delivery(seed):
    rng = random.Random(seed)
    events = scenarios.viewing(rng, streams=30, spread=rng.choice([300, 8 * 3600]))  # a premiere, or a day
    apply_delivered(rng, events)
    ref = reference(events)
    for slug in [None, *sorted({e.slug for e in events})]:
        assert stored_minutes(slug) == ref.minutes(slug), slug
    assert max(ref.minutes().values()) >= 2  # streams do overlap

