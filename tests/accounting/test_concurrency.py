"""Property: the concurrency history (minute values per movie and overall, folded quarter peaks)
equals the reference recompute whatever the delivery: shuffled, late, twice, in random batches,
over minute, hour and day boundaries, with seeks and pauses; and after a fold, a prune and an erasure."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from tests.accounting import scenarios
from tests.accounting.horizon import first_partitioned_day, stream_at_horizon
from tests.accounting.reference import MINUTE, compute
from watchtime.accounting import retention
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.analytics import analytics_recompute
from watchtime.accounting.audit.concurrency import concurrency_drift
from watchtime.accounting.catalogue import movie_delete
from watchtime.accounting.concurrency_peaks import fold, folded_before
from watchtime.accounting.erasure import user_erase
from watchtime.accounting.rebuild import backfill
from watchtime.analytics.models import Minute, MovieMinute, MovieQuarterPeak, QuarterPeak, StreamPlay
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import Movie, WatchTime
from watchtime.rule.concurrency import QUARTER_MINUTES
from watchtime.timestamps import from_us, to_us

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



def stored_peaks(slug: str | None) -> dict[int, tuple[int, int]]:
    rows = QuarterPeak.objects.all() if slug is None else MovieQuarterPeak.objects.filter(movie__slug=slug)
    return {q: (p, at) for q, p, at in rows.values_list("quarter", "peak", "peak_minute") if p}


def reference_peaks(ref, slug: str | None, before_quarter: int) -> dict[int, tuple[int, int]]:
    out = {}
    for quarter in sorted({m // QUARTER_MINUTES for m in ref.minutes(slug)}):
        if quarter < before_quarter:
            peak, at = ref.peak(slug, quarter * QUARTER_MINUTES, (quarter + 1) * QUARTER_MINUTES)
            out[quarter] = (peak, at)
    return {q: v for q, v in out.items() if v[0]}


def assert_history(events, before_quarter: int = 0) -> None:
    """Minute values of unfolded quarters and peaks of folded ones equal the reference; verify agrees."""
    ref = reference(events)
    for slug in [None, *sorted({e.slug for e in events})]:
        want = {m: n for m, n in ref.minutes(slug).items() if m // QUARTER_MINUTES >= before_quarter}
        assert stored_minutes(slug) == want, slug
        assert stored_peaks(slug) == reference_peaks(ref, slug, before_quarter), slug
    assert concurrency_drift(limits=limits_from_settings()) == []


@pytest.mark.parametrize("seed", range(4))
def test_late_events_into_folded_quarters_restate_their_peaks(seed):
    """Apply most events, fold every quarter before the middle of the viewing, then the rest
    (late and in order, on both sides of the fold): folded peaks and minute values stay exact."""
    rng = random.Random(seed)
    events = scenarios.viewing(rng, streams=30, spread=rng.choice([900, 4 * 3600]))
    held = [e for e in events if rng.random() < 0.3]
    held_ids = {e.event_id for e in held}
    apply_delivered(rng, [e for e in events if e.event_id not in held_ids])
    played = sorted(reference(events).minutes())
    middle = (played[len(played) // 2] + QUARTER_MINUTES) * MINUTE  # a quarter past the middle played minute
    assert fold(now=from_us(middle) + timedelta(days=1), minute_days=1) > 0
    before_quarter = folded_before()
    assert_history([e for e in events if e.event_id not in held_ids], before_quarter)
    apply_delivered(rng, held)
    assert_history(events, before_quarter)
    assert stored_peaks(None)  # some quarters are folded and non-zero


def test_verify_finds_a_tampered_minute_row_and_a_tampered_peak_and_recompute_repairs_them():
    rng = random.Random(7)
    events = scenarios.viewing(rng, streams=20, spread=600)
    apply_delivered(rng, events)
    limits = limits_from_settings()
    assert concurrency_drift(limits=limits) == []
    row = MovieMinute.objects.filter(viewers__gt=0).order_by("minute").first()
    MovieMinute.objects.filter(movie_id=row.movie_id, minute=row.minute).update(viewers=row.viewers + 1)
    drift = concurrency_drift(limits=limits)
    assert len(drift) == 1 and f"concurrency minute {row.minute} movie={row.movie_id}: stored {row.viewers + 1}" in drift[0]
    StreamPlay.objects.filter(pk=StreamPlay.objects.order_by("stream_id", "first_minute").values_list("pk", flat=True)[0]).delete()
    assert any("played minutes stored" in line for line in concurrency_drift(limits=limits))
    analytics_recompute(limits=limits, definitions=definitions_from_settings())
    assert_history(events)
    keys = sorted(to_us(e.ts or e.received_at) for e in events)
    fold(now=from_us(keys[-1]) + timedelta(days=2), minute_days=1)
    QuarterPeak.objects.filter(peak__gt=0).update(peak=F("peak") + 1)
    assert any(line.startswith("concurrency quarter") for line in concurrency_drift(limits=limits))
    analytics_recompute(limits=limits, definitions=definitions_from_settings())
    assert_history(events, folded_before())


@pytest.mark.parametrize("folded", [False, True])
def test_erasure_takes_the_users_streams_out_of_every_minute_and_peak(client_all, folded):
    rng = random.Random(11)
    events = scenarios.viewing(rng, users=3, streams=20, spread=900)
    apply_delivered(rng, events)
    if folded:
        played = sorted(reference(events).minutes())
        fold(now=from_us((played[len(played) // 2] + QUARTER_MINUTES) * MINUTE) + timedelta(days=1), minute_days=1)
        assert stored_peaks(None)
    user = max({e.user for e in events}, key=lambda u: sum(e.user == u for e in events))
    user_erase(username=user)
    assert_history([e for e in events if e.user != user], folded_before())


def test_a_late_event_after_a_prune_takes_back_a_minute_the_pruned_pair_played():
    """Pruned: 0@H-10s (the anchor). Kept: 20@H+10s; 0 -> 20 credits 20: [H-10s, H+10s) plays in
    23:59 and 00:00. A late 0@H+5s: 0 -> 0 credits 0, 0 -> 20 credits min(20, 5 + 1) = 6: [H+4s,
    H+10s), 00:00 only. 23:59 has no viewer any more, as the recompute from the events says."""
    stream = stream_at_horizon()
    beat = stream.beat
    first, kept, late = beat(0, -10), beat(20, 10), beat(0, 5)
    events_apply(events=[first, kept])
    minute = to_us(stream.midnight) // MINUTE
    assert stored_minutes("heat") == {minute - 1: 1, minute: 1}
    retention.prune(before=stream.day, limits=limits_from_settings(), definitions=definitions_from_settings())
    assert concurrency_drift(limits=limits_from_settings()) == []
    events_apply(events=[late])
    assert stored_minutes("heat") == {minute: 1} == reference([first, kept, late]).minutes("heat")
    assert concurrency_drift(limits=limits_from_settings()) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_a_prune_keeps_the_history_and_late_events_on_both_sides_of_the_horizon_restate_it(seed):
    rng = random.Random(seed)
    day0 = first_partitioned_day()
    events = scenarios.viewing(rng, users=5, streams=25, t0=datetime(day0.year, day0.month, day0.day, 23, 40, tzinfo=UTC),
                               spread=1200)
    horizon_day = day0 + timedelta(days=1)
    late = [e for e in events if rng.random() < 0.2]
    late_ids = {e.event_id for e in late}
    apply_delivered(rng, [e for e in events if e.event_id not in late_ids])
    assert_history([e for e in events if e.event_id not in late_ids])
    result = retention.prune(before=horizon_day, limits=limits_from_settings(), definitions=definitions_from_settings())
    assert result.events_deleted > 0
    assert_history([e for e in events if e.event_id not in late_ids])
    horizon = to_us(datetime(horizon_day.year, horizon_day.month, horizon_day.day, tzinfo=UTC))
    events_apply(events=late)
    assert_history([e for e in events if e.event_id not in late_ids or to_us(e.ts or e.received_at) >= horizon])
    analytics_recompute(limits=limits_from_settings(), definitions=definitions_from_settings())
    assert_history([e for e in events if e.event_id not in late_ids or to_us(e.ts or e.received_at) >= horizon])


def test_deleting_a_movie_takes_its_streams_out_of_the_overall_minutes_and_peaks():
    rng = random.Random(5)
    events = scenarios.viewing(rng, users=4, streams=25, spread=900)
    apply_delivered(rng, events)
    played = sorted(reference(events).minutes())
    fold(now=from_us((played[len(played) // 2] + QUARTER_MINUTES) * MINUTE) + timedelta(days=1), minute_days=1)
    slug = max(scenarios.DURATIONS, key=lambda s: sum(e.slug == s for e in events))
    movie = Movie.objects.get(slug=slug)
    assert MovieMinute.objects.filter(movie_id=movie.pk).exists() and MovieQuarterPeak.objects.filter(movie_id=movie.pk).exists()
    movie_delete(movie=movie)
    assert not MovieMinute.objects.filter(movie_id=movie.pk).exists() and not MovieQuarterPeak.objects.filter(movie_id=movie.pk).exists()
    assert not StreamPlay.objects.filter(movie_id=movie.pk).exists()
    assert_history([e for e in events if e.slug != slug], folded_before())


def test_the_backfill_builds_the_history_of_viewing_that_predates_it():
    """As after the upgrade that brings it: the viewing is there, its history is not, and every
    user-movie waits for the backfill (migration 0004), which builds it while events still arrive."""
    rng = random.Random(3)
    events = scenarios.viewing(rng, streams=25, spread=900)
    old = [e for e in events if rng.random() < 0.7]
    old_ids = {e.event_id for e in old}
    apply_delivered(rng, old)
    for model in (StreamPlay, MovieMinute, Minute):
        model.objects.all().delete()
    WatchTime.objects.update(analytics_ready=False)
    assert concurrency_drift(limits=limits_from_settings()) == []  # waiting, not drifted
    apply_delivered(rng, [e for e in events if e.event_id not in old_ids])
    assert backfill(limits=limits_from_settings(), definitions=definitions_from_settings()) > 0
    assert_history(events)
