"""The live state the apply path keeps (accounting.live): for random viewing delivered shuffled, late,
twice and in random batches, every stream's row is what its event set gives (its newest heartbeat by
key: when received, whether the pair it closed earned credit), so the live count at any moment is the
reference's; pauses, first heartbeats and late heartbeats by hand; erasure and `maintain`."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.accounting import scenarios
from watchtime.accounting import live as live_state
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.live import live_drift, live_recompute
from watchtime.accounting.erasure import user_erase
from watchtime.analytics import live
from watchtime.analytics.models import LiveStream
from watchtime.definitions import limits_from_settings
from watchtime.events.models import Stream
from watchtime.events.validation import EventIn
from watchtime.rule.credit import credit
from watchtime.timestamps import to_us

pytestmark = pytest.mark.django_db
WINDOW = 30
T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def reference_rows(events: list[EventIn]) -> dict[tuple, tuple[int, bool]]:
    """(user, slug, session) -> (received_us, credited) from the definition, over the distinct events."""
    limits = limits_from_settings()
    by_stream: dict[tuple, dict] = {}
    for e in events:
        by_stream.setdefault((e.user, e.slug, e.session), {})[e.event_id] = e
    rows = {}
    for stream, distinct in by_stream.items():
        ordered = sorted(distinct.values(), key=lambda e: e.heartbeat().key)
        newest = ordered[-1]
        credited = len(ordered) > 1 and credit(ordered[-2].heartbeat(), newest.heartbeat(), limits) > 0
        rows[stream] = (to_us(newest.received_at), credited)
    return rows


def stored_rows() -> dict[tuple, tuple[int, bool]]:
    names = {s.id: (s.user.username, s.movie.slug, s.session) for s in Stream.objects.select_related("user", "movie")}
    return {names[r.stream_id]: (r.received_us, r.credited) for r in LiveStream.objects.all()}


def live_at(events: list[EventIn], now_us: int, slug: str | None = None) -> int:
    return sum(1 for (_, s, _), (received_us, credited) in reference_rows(events).items()
               if credited and received_us >= now_us - WINDOW * 1_000_000 and slug in (None, s))


@pytest.mark.parametrize("seed", range(8))
def test_random_viewing_in_any_delivery_keeps_the_reference_rows(seed):
    rng = random.Random(seed)
    events = scenarios.viewing(rng)
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    assert stored_rows() == reference_rows(events)
    newest_us = max(to_us(e.received_at) for e in events)
    assert live_drift(now_us=newest_us, window_seconds=WINDOW, limits=limits_from_settings()) == []
    movie_ids = {s.movie.slug: s.movie_id for s in Stream.objects.select_related("movie")}
    for received_us in sorted({row[0] for row in reference_rows(events).values()}):
        for now_us in (received_us, received_us + WINDOW * 1_000_000, received_us + WINDOW * 1_000_000 + 1):
            assert live.live_viewers(now_us=now_us, window_seconds=WINDOW) == live_at(events, now_us)
            slug = rng.choice(sorted(movie_ids))
            assert live.live_viewers(now_us=now_us, window_seconds=WINDOW, movie_id=movie_ids[slug]) == \
                live_at(events, now_us, slug)


def beat(at: int, seconds: float, *, user="u", slug="m", received_delay: float = 0.1) -> EventIn:
    moment = T0 + timedelta(seconds=seconds)
    return EventIn(event_id=uuid.uuid4(), user=user, slug=slug, at=at, session="s", ts=moment,
                   received_at=moment + timedelta(seconds=received_delay))


def now_after(event: EventIn, seconds: float = 1) -> int:
    return to_us(event.received_at) + int(seconds * 1_000_000)


def test_a_first_heartbeat_alone_and_a_paused_player_are_not_live():
    first = beat(0, 0)
    events_apply(events=[first])
    assert live.live_viewers(now_us=now_after(first), window_seconds=WINDOW) == 0
    playing = beat(10, 10)
    events_apply(events=[playing])
    assert live.live_viewers(now_us=now_after(playing), window_seconds=WINDOW) == 1
    paused = beat(10, 20)  # the same position again: earns 0
    events_apply(events=[paused])
    assert live.live_viewers(now_us=now_after(paused), window_seconds=WINDOW) == 0
    assert live.live_viewers(now_us=now_after(paused, WINDOW + 1), window_seconds=WINDOW) == 0


def test_a_late_heartbeat_never_moves_the_newest_but_restates_the_pair_it_closes():
    a, c = beat(0, 0), beat(20, 20)
    events_apply(events=[a, c])
    assert stored_rows() == {("u", "m", "s"): (to_us(c.received_at), True)}
    # A late heartbeat between them, received much later: the newest stays c, received when it was.
    late = beat(20, 10, received_delay=100)
    events_apply(events=[late])
    assert stored_rows() == {("u", "m", "s"): (to_us(c.received_at), False)}  # late -> c repeats 20: earns 0
    older = beat(5, 5, received_delay=200)
    events_apply(events=[older])
    assert stored_rows() == {("u", "m", "s"): (to_us(c.received_at), False)}


def test_top_movies_rank_by_live_streams_then_id():
    events = []
    for slug, streams in (("b", 2), ("a", 2), ("c", 3), ("d", 1)):
        for i in range(streams):
            events += [beat(0, 0, user=f"{slug}{i}", slug=slug), beat(10, 10, user=f"{slug}{i}", slug=slug)]
    events += [beat(0, 0, user="x", slug="e")]  # not live: e is not listed
    events_apply(events=events)
    now_us = now_after(events[-1])
    viewers, top = live.live_overview(now_us=now_us, window_seconds=WINDOW, limit=3)
    ids = {m.slug: m.id for m in top}
    assert [(m.slug, m.viewers) for m in top] == [("c", 3), *sorted([("a", 2), ("b", 2)], key=lambda p: ids[p[0]])]
    assert viewers == live.live_viewers(now_us=now_us, window_seconds=WINDOW) == 8


def test_erasure_removes_the_users_live_rows():
    events_apply(events=[beat(0, 0, user="gone"), beat(10, 10, user="gone"), beat(0, 0, user="kept"), beat(10, 10, user="kept")])
    assert LiveStream.objects.count() == 2
    user_erase(username="gone")
    assert stored_rows().keys() == {("kept", "m", "s")}


def test_expiry_forgets_rows_long_past_the_window_only():
    now = datetime.now(UTC)
    recent = EventIn(event_id=uuid.uuid4(), user="r", slug="m", at=0, session="", ts=None, received_at=now)
    old_at = now - timedelta(seconds=WINDOW) - timedelta(microseconds=live_state.EXPIRY_MARGIN_US + 5_000_000)
    old = EventIn(event_id=uuid.uuid4(), user="o", slug="m", at=0, session="", ts=None, received_at=old_at)
    events_apply(events=[recent, old])
    assert LiveStream.objects.count() == 2
    assert live_state.expire(now_us=to_us(now), window_seconds=WINDOW) == 1
    assert [r.received_us for r in LiveStream.objects.all()] == [to_us(now)]


def test_verify_finds_a_wrong_missing_or_orphan_row_and_recompute_restores_them():
    rng = random.Random(7)
    events = scenarios.viewing(rng, streams=8)
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    limits, now_us = limits_from_settings(), max(to_us(e.received_at) for e in events)
    want = stored_rows()
    third, first, second = LiveStream.objects.order_by("-received_us")[:3]  # the newest: a missing row is drift
    LiveStream.objects.filter(stream_id=first.stream_id).update(credited=not first.credited)
    LiveStream.objects.filter(stream_id=second.stream_id).update(received_us=second.received_us + 1)
    LiveStream.objects.filter(stream_id=third.stream_id).delete()
    LiveStream.objects.create(stream_id=10**9, movie_id=first.movie_id, received_us=now_us, credited=True)
    drift = live_drift(now_us=now_us, window_seconds=WINDOW, limits=limits)
    assert len(drift) == 4 and all(line.startswith("live stream ") for line in drift)
    # Rebuilt: the rows maintain would keep (the others count for nothing).
    kept = {k: v for k, v in want.items() if v[0] >= now_us - WINDOW * 1_000_000 - live_state.EXPIRY_MARGIN_US}
    assert live_recompute(now_us=now_us, window_seconds=WINDOW, limits=limits) == len(kept) > 0
    assert stored_rows() == kept
    assert live_drift(now_us=now_us, window_seconds=WINDOW, limits=limits) == []
