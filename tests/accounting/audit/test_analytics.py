"""`watchtime verify` names every kind of analytics row that drifted from the event log, `watchtime
recompute` restores every figure exactly (the API answers the same as before the corruption), and
user-movies that predate the analytics are reported as waiting for `watchtime backfill`, which
then makes verify clean."""

import random
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from tests.accounting import answers, scenarios
from tests.accounting.reference import DAY
from tests.api.test_analytics import get, movie, watch
from watchtime.accounting import rebuild
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.totals import totals_drift
from watchtime.analytics.models import (
    MovieQuarter,
    MovieQuarterReach,
    MovieUtcDay,
    Quarter,
    QuarterReach,
    RetentionBin,
    UserMovieQuarter,
    UserQuarter,
    View,
)
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import Event, Movie, Stream, WatchTime
from watchtime.events.validation import EventIn
from watchtime.rule import coverage

pytestmark = pytest.mark.django_db

WAITING = "1 user-movies wait for the analytics backfill (`watchtime backfill`)"


def verify() -> list[str]:
    """The drift lines `watchtime verify` prints (none when it passes)."""
    stderr = StringIO()
    try:
        call_command("verify", stdout=StringIO(), stderr=stderr)
    except CommandError:
        lines = stderr.getvalue().splitlines()
        assert lines
        return lines
    assert stderr.getvalue() == ""
    return []


def recompute() -> None:
    call_command("recompute", stdout=StringIO())


class Applied:
    """A known data set applied through the apply path, and every API answer over it."""

    def __init__(self, client, seed: int = 5):
        rng = random.Random(seed)
        for slug, duration in scenarios.DURATIONS.items():
            Movie.objects.create(slug=slug, title=slug, duration=duration)
        self.events = scenarios.viewing(rng, users=4, streams=8)
        for batch in scenarios.delivered(rng, self.events):
            events_apply(events=batch)
        keys = [e.key_us for e in scenarios.reference_events(self.events)]
        definitions = definitions_from_settings()
        self.client = client
        self.shape = {
            "users": sorted({e.user for e in self.events}), "slugs": sorted(scenarios.DURATIONS),
            "movie_ids": dict(Movie.objects.values_list("slug", "id")), "first_day": min(keys) // DAY,
            "days": max(keys) // DAY - min(keys) // DAY + 1, "min_view": definitions.view.min_view_seconds,
            "ratio": definitions.view.completion_ratio,
        }

    def answers(self) -> dict:
        return answers.api_answers(self.client, **self.shape)


@pytest.fixture
def applied(client_all) -> Applied:
    data = Applied(client_all)
    assert verify() == [] and totals_drift(limits=limits_from_settings()) == []
    return data


def bump(model, row, **deltas) -> None:
    """Add `deltas` to one row's columns (the row found by its primary key)."""
    model.objects.filter(pk=row.pk).update(**{column: F(column) + d for column, d in deltas.items()})


def aggregate_line(label: str, key: dict, stored: dict, expected: dict) -> str:
    return f"{label} {key}: stored {stored}, expected {expected}"


def views_of_stream(stream_id: int) -> list[tuple]:
    return [tuple(v) for v in View.objects.filter(stream_id=stream_id).order_by("started_us").values_list(
        "started_us", "ended_us", "watch_time", "furthest_position")]


# Each corruption changes one kind of row and returns the lines verify must print for it.


def corrupt_credit():
    row = UserMovieQuarter.objects.filter(watch_time__gt=0).order_by("user_id", "movie_id", "quarter").first()
    bump(UserMovieQuarter, row, watch_time=5)
    return [f"user-movie user={row.user_id} movie={row.movie_id}: credit by quarter (stored, expected) "
            f"{ {row.quarter: (row.watch_time + 5, row.watch_time)} }"]


def corrupt_movie_quarter(column: str):
    def corrupt():
        row = MovieQuarter.objects.filter(views__gt=0, completions__gt=0).order_by("movie_id", "quarter").first()
        stored = {"watch_time": row.watch_time, "views": row.views, "completions": row.completions}
        bump(MovieQuarter, row, **{column: -1})
        return [aggregate_line("moviequarter", {"movie_id": row.movie_id, "quarter": row.quarter},
                               {**stored, column: stored[column] - 1}, stored)]
    return corrupt


def corrupt_movie_utc_day():
    row = MovieUtcDay.objects.filter(views__gt=0).order_by("movie_id", "day").first()
    stored = {"watch_time": row.watch_time, "views": row.views, "completions": row.completions}
    bump(MovieUtcDay, row, views=1)
    return [aggregate_line("movieutcday", {"movie_id": row.movie_id, "day": row.day}, {**stored, "views": row.views + 1},
                           stored)]


def corrupt_reach():
    row = MovieQuarterReach.objects.filter(users__gt=0).order_by("movie_id", "quarter", "previous_quarter").last()
    bump(MovieQuarterReach, row, users=1)
    return [aggregate_line("moviequarterreach", {"movie_id": row.movie_id, "quarter": row.quarter,
                                                 "previous_quarter": row.previous_quarter},
                           {"users": row.users + 1}, {"users": row.users})]


def corrupt_overall_reach(column: str):
    def corrupt():
        row = QuarterReach.objects.filter(viewers__gt=0, movies__gt=0).order_by("quarter", "previous_quarter").first()
        stored = {"viewers": row.viewers, "movies": row.movies}
        bump(QuarterReach, row, **{column: 2})
        return [aggregate_line("quarterreach", {"quarter": row.quarter, "previous_quarter": row.previous_quarter},
                               {**stored, column: stored[column] + 2}, stored)]
    return corrupt


def corrupt_quarter():
    row = Quarter.objects.filter(watch_time__gt=0).order_by("quarter").first()
    bump(Quarter, row, watch_time=2)
    return [aggregate_line("quarter", {"quarter": row.quarter}, {"watch_time": row.watch_time + 2},
                           {"watch_time": row.watch_time})]


def corrupt_count(model, label: str, keys: tuple, column: str):
    def corrupt():
        row = model.objects.filter(**{f"{column}__gt": 0}).order_by(*keys).first()
        bump(model, row, **{column: 1})
        return [aggregate_line(label, {k: getattr(row, k) for k in keys}, {column: getattr(row, column) + 1},
                               {column: getattr(row, column)})]
    return corrupt


def corrupt_view(column: str):
    def corrupt():
        row = View.objects.filter(watch_time__gt=0).order_by("stream_id", "started_us").first()
        expected = views_of_stream(row.stream_id)
        bump(View, row, **{column: 3})
        return [f"stream {row.stream_id}: views stored {views_of_stream(row.stream_id)}, expected {expected}"]
    return corrupt


def delete_view():
    """A stream's first view gone: its views and (when it was the last) its last_view_id drift."""
    stream = Stream.objects.filter(total__gt=0).order_by("id").first()
    expected = views_of_stream(stream.pk)
    View.objects.filter(stream_id=stream.pk).order_by("started_us").first().delete()
    return [f"stream {stream.pk}: views stored {views_of_stream(stream.pk)}, expected {expected}"]


def corrupt_last_view():
    stream = Stream.objects.exclude(last_view_id=None).order_by("id").first()
    Stream.objects.filter(pk=stream.pk).update(last_view_id=None)
    return [f"stream {stream.pk}: last_view_id None, expected {stream.last_view_id}"]


def corrupt_coverage():
    row = WatchTime.objects.exclude(coverage="").order_by("user_id", "movie_id").first()
    runs = coverage.decode(row.coverage)
    lo, hi, count = runs[0]
    wrong = [(lo, hi, count + 1), *runs[1:]]  # a count alone: the same bins, the retention curve untouched
    WatchTime.objects.filter(pk=row.pk).update(coverage=coverage.encode(wrong))
    return [f"user-movie user={row.user_id} movie={row.movie_id}: coverage stored {coverage.encode(wrong)!r}, "
            f"expected {row.coverage!r}"]


def corrupt_coverage_bins():
    """Bins lost from a viewer's coverage: the retention bins no longer match the coverage either."""
    row = WatchTime.objects.exclude(coverage="").order_by("user_id", "movie_id").first()
    runs = coverage.decode(row.coverage)
    lo, hi, count = runs[-1]
    WatchTime.objects.filter(pk=row.pk).update(coverage=coverage.encode(runs[:-1]))
    stored = dict(RetentionBin.objects.filter(movie_id=row.movie_id).values_list("bin", "users"))
    lines = [f"user-movie user={row.user_id} movie={row.movie_id}: coverage stored {coverage.encode(runs[:-1])!r}, "
             f"expected {row.coverage!r}"]
    lines += [f"retention bin movie={row.movie_id} bin={k}: stored {stored[k]}, expected {stored[k] - 1}" for k in range(lo, hi)]
    return lines


def corrupt_retention_bin():
    row = RetentionBin.objects.filter(users__gt=0).order_by("movie_id", "bin").last()
    bump(RetentionBin, row, users=1)
    return [f"retention bin movie={row.movie_id} bin={row.bin}: stored {row.users + 1}, expected {row.users}"]


def corrupt_movie_viewers():
    row = Movie.objects.filter(viewers__gt=0).order_by("id").first()
    bump(Movie, row, viewers=-1)
    return [f"movie {row.pk}: stored viewers {row.viewers - 1}, expected {row.viewers}"]


def corrupt_last_watched():
    row = WatchTime.objects.filter(total__gt=0).order_by("user_id", "movie_id").first()
    bump(WatchTime, row, last_watched_us=-1)
    return [f"user-movie user={row.user_id} movie={row.movie_id}: last_watched_us stored {row.last_watched_us - 1}, "
            f"expected {row.last_watched_us}"]


def delete_movie_quarter():
    row = MovieQuarter.objects.filter(watch_time__gt=0).order_by("movie_id", "quarter").first()
    line = aggregate_line("moviequarter", {"movie_id": row.movie_id, "quarter": row.quarter},
                          {"watch_time": 0, "views": 0, "completions": 0},
                          {"watch_time": row.watch_time, "views": row.views, "completions": row.completions})
    MovieQuarter.objects.filter(movie_id=row.movie_id, quarter=row.quarter).delete()
    return [line]


def stray_quarter():
    """A row for a quarter nobody watched in."""
    quarter = Quarter.objects.order_by("-quarter").first().quarter + 100
    Quarter.objects.create(quarter=quarter, watch_time=7)
    return [aggregate_line("quarter", {"quarter": quarter}, {"watch_time": 7}, {"watch_time": 0})]


CORRUPTIONS = {
    "user-movie-quarter credit": corrupt_credit,
    "movie quarter watch time": corrupt_movie_quarter("watch_time"),
    "movie quarter views": corrupt_movie_quarter("views"),
    "movie quarter completions": corrupt_movie_quarter("completions"),
    "movie UTC day views": corrupt_movie_utc_day,
    "reach row": corrupt_reach,
    "quarter watch time": corrupt_quarter,
    "overall reach viewers": corrupt_overall_reach("viewers"),
    "overall reach movies": corrupt_overall_reach("movies"),
    "user quarter count": corrupt_count(UserQuarter, "userquarter", ("user_id", "quarter"), "credited_movies"),
    "view watch time": corrupt_view("watch_time"),
    "view furthest position": corrupt_view("furthest_position"),
    "view deleted": delete_view,
    "stream last_view_id": corrupt_last_view,
    "coverage count": corrupt_coverage,
    "coverage bins": corrupt_coverage_bins,
    "retention bin count": corrupt_retention_bin,
    "movie viewers": corrupt_movie_viewers,
    "last_watched_us": corrupt_last_watched,
    "movie quarter row missing": delete_movie_quarter,
    "stray quarter row": stray_quarter,
}


@pytest.mark.parametrize("corrupt", [pytest.param(f, id=name) for name, f in CORRUPTIONS.items()])
def test_verify_names_the_drift_and_recompute_restores_every_figure(applied, corrupt):
    before = applied.answers()
    expected = corrupt()
    drift = verify()
    missing = [line for line in expected if line not in drift]
    assert missing == [], drift
    recompute()
    assert verify() == [] and totals_drift(limits=limits_from_settings()) == []
    assert applied.answers() == before


def test_recompute_of_clean_analytics_changes_nothing(applied):
    before = applied.answers()
    recompute()
    assert verify() == [] and applied.answers() == before


# --- user-movies that predate the analytics ---------------------------------------------------


# The backfill commits one user-movie at a time, outside any transaction of the caller's.
BACKFILL = pytest.mark.django_db(transaction=True)


def strip(user_id: int, movie_id: int) -> None:
    """Leave the user-movie as the release before the analytics left it: its events and totals
    stored, no analytics facts and no part in any aggregate."""
    rebuild.remove_pairs({(user_id, movie_id): 0}, definitions_from_settings())
    assert not UserMovieQuarter.objects.filter(user_id=user_id, movie_id=movie_id).exists()
    assert not View.objects.filter(user_id=user_id, movie_id=movie_id).exists()


def backfill() -> int:
    return rebuild.backfill(limits=limits_from_settings(), definitions=definitions_from_settings())


def a_watched_pair() -> WatchTime:
    return WatchTime.objects.filter(total__gt=0).order_by("-total", "id").first()


@BACKFILL
def test_a_user_movie_not_ready_waits_for_the_backfill(applied):
    before = applied.answers()
    pair = a_watched_pair()
    strip(pair.user_id, pair.movie_id)
    WatchTime.objects.filter(pk=pair.pk).update(analytics_ready=False)
    assert verify() == [WAITING]
    assert applied.answers() != before  # its watch time is missing from the series until the backfill
    assert backfill() == 1
    assert verify() == [] and applied.answers() == before
    assert backfill() == 0


@BACKFILL
def test_events_of_the_previous_release_wait_for_the_backfill(applied):
    """Events a previous release's consumer wrote during a rolling upgrade are not rolled up."""
    before = applied.answers()
    pair = a_watched_pair()
    strip(pair.user_id, pair.movie_id)
    Event.objects.filter(user_id=pair.user_id, movie_id=pair.movie_id).update(rolled_up=False)
    assert verify() == [WAITING]
    assert backfill() == 1
    assert verify() == [] and applied.answers() == before
    assert not Event.objects.filter(rolled_up=False).exists()


@BACKFILL
def test_new_events_of_a_user_movie_not_ready_leave_it_to_the_backfill(applied):
    """The apply path cannot restate views it does not have: it marks the user-movie for the
    backfill, and verify keeps reporting it as waiting (not as drift) until the backfill ran."""
    pair = a_watched_pair()
    strip(pair.user_id, pair.movie_id)
    WatchTime.objects.filter(pk=pair.pk).update(analytics_ready=False)
    head = Stream.objects.filter(user_id=pair.user_id, movie_id=pair.movie_id, total__gt=0).select_related("head").first()
    newest = max(head.head.ts or head.head.received_at, head.head.received_at)
    later = [EventIn(event_id=uuid.uuid4(), user=pair.user.username, slug=pair.movie.slug, at=head.head.at + 10 * i,
                     session=head.session, ts=newest + timedelta(seconds=10 * i), received_at=newest + timedelta(seconds=10 * i))
             for i in (1, 2)]
    events_apply(events=later)
    assert WatchTime.objects.get(pk=pair.pk).analytics_ready is False
    assert verify() == [WAITING]
    assert backfill() == 1
    assert verify() == []
    backfilled = applied.answers()
    recompute()
    assert verify() == [] and applied.answers() == backfilled


# --- definitions at their boundaries ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "duration", "positions"),
    [
        # 0.55 x 100 = 55, though 0.55 * 100 is 55.00000000000001 in binary floating point.
        pytest.param(0.55, 100, (0, 10, 20, 30, 40, 50, 55), id="0.55 x 100"),
        # Six decimals on the longest movie: 0.999988 x 86400 = 86398.9632, reached at 86399 (the
        # exact products, 86399 x 250000 and 249997 x 86400, exceed 32-bit integers in the database).
        pytest.param(0.999988, 86400, (86299, 86309, 86399), id="0.999988 x 86400"),
    ],
)
def test_completion_at_exactly_the_configured_ratio_is_the_same_everywhere(client_all, settings, ratio, duration, positions):
    """A view at exactly ratio x duration is complete in the stored daily counts, in verify's
    recount (SQL) and in the answers."""
    settings.WATCHTIME_COMPLETION_RATIO = ratio
    m1 = movie("m1", duration=duration)
    watch(client_all, "alice", "m1", *((at, i * 10) for i, at in enumerate(positions)))
    assert verify() == []
    assert get(client_all, f"/movies/{m1}/engagement/")["completions"] == 1
    top = get(client_all, "/stats/top-movies/?from=2026-01-01&to=2026-01-02&by=completions")["results"]
    assert [r["completions"] for r in top] == [1]
    # Per request too, and a second short of the threshold is not complete.
    assert get(client_all, f"/movies/{m1}/engagement/?completion_ratio={ratio}")["completions"] == 1
    assert get(client_all, f"/movies/{m1}/engagement/?completion_ratio={(positions[-1] + 1) / duration}")["completions"] == 0


def test_deleting_a_movie_takes_it_out_of_every_figure(applied, make_client):
    """What the deletion leaves is what a recompute from the remaining events gives."""
    victim = Movie.objects.filter(viewers__gt=1).order_by("id").first()
    assert make_client("admin").delete(f"/movies/{victim.pk}/").status_code == 204
    applied.shape["slugs"] = [s for s in applied.shape["slugs"] if s != victim.slug]
    assert verify() == []
    after = applied.answers()
    recompute()
    assert verify() == [] and applied.answers() == after
