"""The concurrency endpoints (issue 24): shapes, a worked example derived by hand, the answers of
random viewing against the reference recompute (minutes, UTC and zoned hour and day peaks, after a
fold too), and the limits: 48 hours of minutes, the minute window, an unknown zone."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.accounting import scenarios
from tests.accounting.reference import MINUTE, compute
from tests.api.test_analytics import DEFINITIONS, assert_error, get, movie
from watchtime.accounting.apply import events_apply
from watchtime.accounting.concurrency_peaks import fold
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import Movie
from watchtime.events.validation import EventIn
from watchtime.rule import zones
from watchtime.timestamps import to_us

pytestmark = pytest.mark.django_db
KEYS = {"interval", "tz", "from", "to", "results", "definitions", "as_of"}


def recent_hour() -> datetime:
    """Two days ago, on the hour: inside the minute window."""
    return (timezone.now() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def beats(user: str, slug: str, session: str, start: datetime, points) -> list[EventIn]:
    """(at, seconds after start) heartbeats with the player's clock."""
    return [EventIn(event_id=uuid.uuid4(), user=user, slug=slug, at=at, session=session,
                    ts=start + timedelta(seconds=s), received_at=start + timedelta(seconds=s)) for at, s in points]


def test_worked_example_minutes_and_peaks(client_all):
    """alice plays 0 -> 90 s from t+30 s (pairs every 10 s: she plays [t+30, t+120), minutes 0 and
    1); bob plays from t+50 s to t+70 s then pauses (minute 0 then 1 by the pair 60 -> 70 ending at
    t+70); carol's first heartbeat alone plays nothing. Minute 0: alice, bob; minute 1: alice, bob."""
    t = recent_hour()
    heat = movie("heat")
    events = beats("alice", "heat", "", t, [(a, 30 + a) for a in range(0, 100, 10)])
    events += beats("bob", "heat", "", t, [(0, 50), (10, 60), (20, 70), (20, 80), (20, 90)])
    events += beats("carol", "heat", "", t, [(0, 150)])
    events_apply(events=events)
    body = get(client_all, f"/movies/{heat}/concurrency/?interval=minute&from={iso(t)}&to={iso(t + timedelta(minutes=3))}")
    assert set(body) == KEYS and body["definitions"] == DEFINITIONS
    assert body["results"] == [{"start": iso(t), "viewers": 2}, {"start": iso(t + timedelta(minutes=1)), "viewers": 2},
                               {"start": iso(t + timedelta(minutes=2)), "viewers": 0}]
    hours = get(client_all, f"/stats/concurrency/?interval=hour&from={iso(t)}&to={iso(t + timedelta(hours=2))}")
    assert hours["results"] == [{"start": iso(t), "peak": 2, "peak_at": iso(t)},
                                {"start": iso(t + timedelta(hours=1)), "peak": 0, "peak_at": None}]
    paris = get(client_all, f"/stats/concurrency/?interval=day&tz=Asia/Kathmandu&from={iso(t)}&to={iso(t + timedelta(hours=1))}")
    assert paris["tz"] == "Asia/Kathmandu" and paris["results"][0]["peak"] == 2
    assert paris["results"][0]["start"].endswith("+05:45")


@pytest.mark.parametrize("seed", range(3))
def test_random_viewing_answers_the_reference(client_all, seed):
    rng = random.Random(seed)
    t0 = recent_hour() - timedelta(hours=20)
    events = scenarios.viewing(rng, streams=25, t0=t0, spread=rng.choice([600, 6 * 3600]))
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    definitions = definitions_from_settings()
    ref = compute(scenarios.reference_events(events), limits=limits_from_settings(),
                  gap_seconds=definitions.view.gap_seconds, resolution=definitions.retention_resolution_seconds)
    ids = dict(Movie.objects.values_list("slug", "id"))
    keys = [e.key_us for e in scenarios.reference_events(events)]
    first, end = min(keys) // MINUTE - 5, min(max(keys) // MINUTE + 5, min(keys) // MINUTE + 48 * 60 - 5)
    for slug, url in [(None, "/stats/concurrency/"), *[(s, f"/movies/{i}/concurrency/") for s, i in sorted(ids.items())]]:
        want = ref.minutes(slug)
        got = get(client_all, f"{url}?interval=minute&from={iso_us(first * MINUTE)}&to={iso_us(end * MINUTE)}")["results"]
        assert [r["viewers"] for r in got] == [want.get(m, 0) for m in range(first, end)], slug
        for zone, interval in [("UTC", "hour"), ("America/New_York", "day"), ("Asia/Kathmandu", "hour")]:
            assert peaks(client_all, url, zone, interval, first, end) == want_peaks(ref, slug, zone, interval, first, end)
    # Folded into quarter peaks, the hours and days answer the same.
    assert fold(now=timezone.now() + timedelta(days=2), minute_days=1) > 0
    for slug, url in [(None, "/stats/concurrency/"), *[(s, f"/movies/{i}/concurrency/") for s, i in sorted(ids.items())]]:
        for zone, interval in [("UTC", "hour"), ("Asia/Kathmandu", "day")]:
            assert peaks(client_all, url, zone, interval, first, end) == want_peaks(ref, slug, zone, interval, first, end)


def iso_us(us: int) -> str:
    return iso(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us))


def peaks(client, url, zone, interval, first, end) -> list:
    body = get(client, f"{url}?interval={interval}&tz={zone}&from={iso_us(first * MINUTE)}&to={iso_us(end * MINUTE)}")
    return [(r["peak"], r["peak_at"] and to_us(datetime.fromisoformat(r["peak_at"].replace("Z", "+00:00")))) for r in body["results"]]


def want_peaks(ref, slug, zone, interval, first, end) -> list:
    out = []
    for b in zones.local_buckets(zone, interval, first * MINUTE, end * MINUTE):
        peak, at = ref.peak(slug, b.utc_start // MINUTE, b.utc_end // MINUTE)
        out.append((peak, at * MINUTE if at is not None else None))
    return out


def test_limits(client_all):
    now = timezone.now()
    body = get(client_all, f"/stats/concurrency/?interval=minute&from={iso(now - timedelta(hours=49))}&to={iso(now)}", 400)
    assert_error(body, "48 hours")
    body = get(client_all, f"/stats/concurrency/?interval=minute&from={iso(now - timedelta(days=8))}"
                           f"&to={iso(now - timedelta(days=8) + timedelta(hours=1))}", 400)
    assert_error(body, "kept 7 days", "interval=hour")
    assert_error(get(client_all, "/stats/concurrency/?interval=hour&tz=Mars/Olympus", 400), "Mars/Olympus")
    assert_error(get(client_all, "/stats/concurrency/?interval=week", 400), "interval")
    assert_error(get(client_all, f"/stats/concurrency/?interval=hour&from={iso(now - timedelta(days=40))}", 400), "744 hours")
    assert get(client_all, "/movies/999999/concurrency/", 404)["error"]["code"] == "not_found"
    default = get(client_all, "/stats/concurrency/")
    assert default["interval"] == "minute" and len(default["results"]) == 60
    assert len(get(client_all, "/stats/concurrency/?interval=day")["results"]) in (30, 31)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_minute_starts_are_written_as_every_other_local_time(zone):
    """Over a day holding a DST change (Lord Howe's is 30 minutes; St John's is -03:30/-02:30)."""
    from watchtime.api.analytics.concurrency import _local, _minute_starts

    for day in (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)):
        first = to_us(day - timedelta(hours=12)) // MINUTE
        assert _minute_starts(first, first + 48 * 60, zone) == [_local(m * MINUTE, zone) for m in range(first, first + 48 * 60)]


def test_the_edges_of_time_answer_400_not_500(client_all):
    for query in ("interval=day&from=9999-12-30&to=9999-12-31T23:59:59Z", "interval=hour&tz=Asia/Kathmandu&from=9999-12-31",
                  "interval=day&tz=America/New_York&from=0001-01-01&to=0001-01-03", "interval=minute&from=0001-01-01&to=0001-01-02"):
        assert get(client_all, f"/stats/concurrency/?{query}", 400)["error"]["code"] == "invalid", query


def test_openapi_documents_both_operations(client_all):
    schema = get(client_all, "/schema/?format=json")
    for path in ("/movies/{movie_pk}/concurrency/", "/stats/concurrency/"):
        operation = schema["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"interval", "from", "to", "tz"}
        for status in ("400", "401", "403"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        success = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert success == {"$ref": "#/components/schemas/ConcurrencyOutput"}
    shapes = schema["components"]["schemas"]["ConcurrencyOutput"]["oneOf"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in shapes} == {"ConcurrencyMinutesOutput", "ConcurrencyPeaksOutput"}
