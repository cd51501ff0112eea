"""The upgrade to rollups per quarter hour (analytics 0003_quarters) on an installation with hourly
history: each hour's figures land in its first quarter, whole-UTC-hour zones answer at once,
other zones are refused with the earliest instant they can answer until the backfill has restated
the hours from the log, and history a prune folded (older than the log) stays hourly for good."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from watchtime.accounting import rebuild
from watchtime.accounting.audit import expected
from watchtime.analytics.models import QuarterGrain, UserMovieQuarter
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import CustomUser, Horizon, Movie, WatchTime

pytestmark = pytest.mark.django_db(transaction=True)

HOUR_US = 3_600_000_000
HOUR = 493_152  # 2026-04-05T00:00Z, in hours since the epoch


def migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("analytics", target)])


@pytest.fixture
def hourly_history():
    """The previous release's rollups: alice credited 30 s on m in the hour 00:00-01:00Z of 5 April."""
    migrate("0002_hot_fillfactor")
    user = CustomUser.objects.create(username="alice")
    movie = Movie.objects.create(slug="m", title="m")
    WatchTime.objects.create(user=user, movie=movie, total=30, analytics_ready=True)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_usermoviehour")
        cursor.execute("INSERT INTO analytics_usermoviehour (user_id, hour, movie_id, watch_time) VALUES (%s, %s, %s, 30)",
                       [user.pk, HOUR, movie.pk])
    migrate("0003_quarters")
    yield movie
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_usermoviehour")


def test_hours_land_in_their_first_quarter_and_every_aggregate_follows(hourly_history):
    assert list(UserMovieQuarter.objects.values_list("quarter", "watch_time")) == [(HOUR * 4, 30)]
    assert all(expected.drift(a, definitions_from_settings().view) == [] for a in expected.aggregates())
    assert QuarterGrain.objects.get().hours_before_us == (HOUR + 1) * HOUR_US
    assert not WatchTime.objects.get().analytics_ready  # the backfill restates it from the log


def test_whole_hour_zones_answer_and_others_name_the_earliest_instant(client_all, hourly_history):
    m = hourly_history.pk
    utc = client_all.get(f"/movies/{m}/watch-time/?interval=hour&from=2026-04-05T00:00:00Z&to=2026-04-05T02:00:00Z")
    assert [(r["start"], r["watch_time"], r["viewers"]) for r in utc.json()["results"]] == [
        ("2026-04-05T00:00:00Z", 30, 1), ("2026-04-05T01:00:00Z", 0, 0)]
    paris = client_all.get(f"/movies/{m}/watch-time/?from=2026-04-05&to=2026-04-06&tz=Europe/Paris")
    assert [(r["start"], r["watch_time"]) for r in paris.json()["results"]] == [("2026-04-05T00:00:00+02:00", 30)]
    refused = client_all.get(f"/movies/{m}/watch-time/?from=2026-04-05&to=2026-04-06&tz=Asia/Kathmandu")
    assert refused.status_code == 400
    # Hourly history ends at 01:00Z = 06:45 in Kathmandu: its first whole local day starts the next midnight.
    assert refused.json()["error"]["details"]["earliest"] == "2026-04-06T00:00:00+05:45"
    later = client_all.get(f"/movies/{m}/watch-time/?from=2026-04-06&to=2026-04-07&tz=Asia/Kathmandu")
    assert later.status_code == 200
    top = client_all.get("/stats/top-movies/?from=2026-04-05&to=2026-04-06&tz=Asia/Kathmandu")
    assert top.status_code == 400 and "earliest" in top.json()["error"]["details"]


def test_the_backfill_keeps_what_a_prune_folded_hourly_and_restates_the_rest(client_all, hourly_history):
    Horizon.objects.update_or_create(pk=1, defaults={"pruned_before_us": (HOUR + 24) * HOUR_US})  # the log starts 6 April
    rebuild.backfill(limits=limits_from_settings(), definitions=definitions_from_settings())
    assert WatchTime.objects.get().analytics_ready
    assert list(UserMovieQuarter.objects.values_list("quarter", "watch_time")) == [(HOUR * 4, 30)]  # folded: it stays
    assert QuarterGrain.objects.get().hours_before_us == (HOUR + 1) * HOUR_US
    assert client_all.get(f"/movies/{hourly_history.pk}/watch-time/?from=2026-04-05&to=2026-04-06&tz=Asia/Kathmandu"
                          ).status_code == 400


def test_without_a_prune_the_backfill_makes_every_quarter_exact(hourly_history):
    rebuild.backfill(limits=limits_from_settings(), definitions=definitions_from_settings())
    assert QuarterGrain.objects.get().hours_before_us is None

