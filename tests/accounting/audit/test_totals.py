"""`watchtime verify` finds totals that drifted from the event log, and `watchtime recompute`
rebuilds them, run as the real commands against the test database."""

import random
import subprocess
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from tests import support
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.totals import totals_drift
from watchtime.definitions import limits_from_settings
from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime
from watchtime.events.validation import parse_events
from watchtime.rule.credit import stream_total

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [support.WATCHTIME, command], env=support.service_env("unused"), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def applied_events():
    """A few hundred heartbeats over 30 streams, with and without wall clocks, applied out of order
    and with duplicates through the normal apply path; returns them."""
    rng = random.Random(11)
    base = datetime(2026, 2, 1, tzinfo=UTC)
    items = []
    for user in range(5):
        for movie in range(3):
            for session in ("", "tv"):
                position, clock, with_ts = rng.randrange(0, 2000), rng.randrange(0, 3600), rng.random() < 0.7
                for _ in range(rng.randrange(5, 15)):
                    position = max(0, position + rng.choice([10, 10, 10, 0, -20, 300]))
                    clock += rng.choice([10, 10, 600])
                    item = {
                        "user": f"r{user}",
                        "slug": f"rm{movie}",
                        "session": session,
                        "at": position,
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    }
                    if with_ts:
                        item["ts"] = (base + timedelta(seconds=clock)).isoformat()
                    items.append(item)
    events = parse_events(items, now=datetime.now(UTC))
    shuffled = events + rng.sample(events, 40)
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 37):
        events_apply(events=shuffled[start : start + 37])
    return events


def stored_totals() -> dict:
    return {
        "users": dict(CustomUser.objects.values_list("username", "total_watch_time")),
        "movies": dict(Movie.objects.values_list("slug", "total_watch_time")),
        "pairs": {
            (w.user.username, w.movie.slug): (w.total, w.last_moment, w.last_event_id)
            for w in WatchTime.objects.select_related("user", "movie")
        },
        "streams": dict(((s.user_id, s.movie_id, s.session), (s.total, s.head_id)) for s in Stream.objects.all()),
    }


def test_verify_detects_drift_and_recompute_repairs_it(applied_events):
    limits = limits_from_settings()
    streams = defaultdict(list)
    for event in applied_events:
        streams[(event.user, event.slug, event.session)].append(event.heartbeat())
    expected_users = defaultdict(int)
    for (user, _slug, _session), heartbeats in streams.items():
        expected_users[user] += stream_total(heartbeats, limits)
    before = stored_totals()
    assert before["users"] == expected_users
    assert run("verify").returncode == 0

    user, movie = CustomUser.objects.get(username="r1"), Movie.objects.get(slug="rm2")
    pair = WatchTime.objects.filter(total__gt=0).order_by("id").first()
    missing = WatchTime.objects.filter(total__gt=0).order_by("-id").first()
    stream = Stream.objects.filter(total__gt=0).order_by("id").first()
    # A head pointer alone gone wrong (it has no database constraint): the stream's first event.
    misled = Stream.objects.filter(total__gt=0).order_by("-id").first()
    first_event = Event.objects.filter(stream=misled).order_by("sort_us", "at", "event_id").first()
    CustomUser.objects.filter(pk=user.pk).update(total_watch_time=user.total_watch_time + 7)
    Movie.objects.filter(pk=movie.pk).update(total_watch_time=0)
    WatchTime.objects.filter(pk=pair.pk).update(total=pair.total - 3, last_moment=0)
    Stream.objects.filter(pk=stream.pk).update(total=stream.total + 100, head=None)
    Stream.objects.filter(pk=misled.pk).update(head=first_event)
    missing_key = (missing.user_id, missing.movie_id)
    missing.delete()

    verify = run("verify")
    assert verify.returncode != 0
    drift = verify.stderr
    assert f"user {user.pk}: stored total {user.total_watch_time + 7}, expected {user.total_watch_time}" in drift
    assert f"movie {movie.pk}: stored total 0, expected {movie.total_watch_time}" in drift
    assert (
        f"watch time user={pair.user_id} movie={pair.movie_id}: stored (total, last_moment, last_event) "
        f"{(pair.total - 3, 0, pair.last_event_id)}, expected {(pair.total, pair.last_moment, pair.last_event_id)}"
    ) in drift
    assert f"watch time user={missing_key[0]} movie={missing_key[1]}: missing" in drift
    assert (
        f"stream {stream.pk}: stored (total, head) {(stream.total + 100, None)}, expected {(stream.total, stream.head_id)}"
        in drift
    )
    assert (
        f"stream {misled.pk}: stored (total, head) {(misled.total, first_event.pk)}, expected {(misled.total, misled.head_id)}"
        in drift
    )
    assert len(totals_drift(limits=limits)) >= 6

    recompute = run("recompute")
    assert recompute.returncode == 0, recompute.stderr
    assert run("verify").returncode == 0
    assert totals_drift(limits=limits) == []
    assert stored_totals() == before


def test_verify_reports_events_whose_stream_is_gone(applied_events):
    # The event log's references have no database constraint (models.LOG_REFERENCE).
    stream = Stream.objects.filter(total__gt=0).order_by("id").first()
    event = Event.objects.filter(stream=stream).order_by("id").first()
    orphan_stream_id = Stream.objects.order_by("-id").first().pk + 1000
    Event.objects.filter(pk=event.pk).update(stream_id=orphan_stream_id)

    drift = totals_drift(limits=limits_from_settings())

    assert f"stream {orphan_stream_id}: stored (total, head) None, expected (0, {event.pk})" in drift
