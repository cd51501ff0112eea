"""Property: random viewing delivered shuffled, late, twice and in random batches leaves every
analytics answer of the API exactly what a straightforward recompute from the event set gives,
and `verify` finds nothing. (The same with concurrent consumer processes: test_concurrent_apply.py.)"""

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import available_timezones

import pytest
from django.conf import settings

from tests.accounting import answers, scenarios
from tests.accounting.reference import DAY, compute
from watchtime.accounting.apply import events_apply
from watchtime.accounting.audit.analytics import analytics_drift
from watchtime.accounting.audit.totals import totals_drift
from watchtime.definitions import definitions_from_settings, limits_from_settings
from watchtime.events.models import Movie

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def answers_for(client, rng: random.Random, events, tz: str = "UTC") -> tuple[dict, dict]:
    """Apply `events` as delivered by `rng`; (the API's answers in zone `tz`, the reference's)."""
    for slug, duration in scenarios.DURATIONS.items():
        Movie.objects.get_or_create(slug=slug, defaults={"title": slug, "duration": duration})
    for batch in scenarios.delivered(rng, events):
        events_apply(events=batch)
    limits, definitions = limits_from_settings(), definitions_from_settings()
    ref = compute(scenarios.reference_events(events), limits=limits, gap_seconds=definitions.view.gap_seconds,
                  resolution=definitions.retention_resolution_seconds)
    keys = [e.key_us for e in scenarios.reference_events(events)]
    first_day, days = min(keys) // DAY, max(keys) // DAY - min(keys) // DAY + 1
    shape = {
        "tz": tz, "users": sorted({e.user for e in events}), "slugs": sorted(scenarios.DURATIONS),
        "movie_ids": dict(Movie.objects.values_list("slug", "id")), "first_day": first_day, "days": days,
        "min_view": definitions.view.min_view_seconds, "ratio": definitions.view.completion_ratio,
    }
    got = answers.api_answers(client, **shape)
    want = answers.reference_answers(ref, durations=scenarios.DURATIONS, resolution=definitions.retention_resolution_seconds,
                                     completed_percent=definitions.progress.completed_percent, **shape)
    return got, want


def apply_and_compare(client, rng: random.Random, events, tz: str = "UTC") -> None:
    got, want = answers_for(client, rng, events, tz)
    mismatched = {k: (got[k], want[k]) for k in want if got.get(k) != want[k]}
    assert mismatched == {}
    limits = limits_from_settings()
    assert totals_drift(limits=limits) == []
    assert analytics_drift(limits=limits, definitions=definitions_from_settings()) == []


@pytest.mark.parametrize("seed", range(12))
def test_random_viewing_in_any_delivery_gives_the_reference(client_all, seed):
    rng = random.Random(seed)
    apply_and_compare(client_all, rng, scenarios.viewing(rng))


ZONED = [  # (zone, where the viewing starts): both 2026 changes of New York and Lord Howe, :45 zones
    ("America/New_York", datetime(2026, 3, 8, 4, 0, tzinfo=UTC)),  # 23-hour day
    ("America/New_York", datetime(2026, 11, 1, 3, 30, tzinfo=UTC)),  # 25-hour day, 01:00 twice
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 12, 0, tzinfo=UTC)),  # back 30 min: 24.5-hour day
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 12, 30, tzinfo=UTC)),  # forward 30 min: 23.5-hour day
    ("Pacific/Chatham", datetime(2026, 4, 4, 11, 0, tzinfo=UTC)),  # +13:45 -> +12:45
    ("Asia/Kathmandu", datetime(2026, 1, 1, 16, 0, tzinfo=UTC)),  # +05:45
]


@pytest.mark.parametrize(("tz", "t0"), ZONED, ids=[f"{z}-{t:%m%d}" for z, t in ZONED])
def test_every_answer_in_a_zone_around_its_changes_gives_the_reference(client_all, tz, t0):
    rng = random.Random(f"{tz}{t0}")
    apply_and_compare(client_all, rng, scenarios.viewing(rng, t0=t0), tz)


@pytest.mark.parametrize("seed", range(4))
def test_random_zones_give_the_reference(client_all, seed):
    """Any zone of the tz database, viewing at any moment of 2026 (the log's partitions are days:
    the other tests' year keeps their number small)."""
    rng = random.Random(seed)
    tz = rng.choice(sorted(available_timezones()))
    t0 = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * rng.randrange(360 * 96))
    apply_and_compare(client_all, rng, scenarios.viewing(rng, t0=t0), tz)


def test_a_short_view_gap_and_coarse_bins_are_exact_too(client_all):
    """Other definitions: views cut after 60 s, retention bins of 7 s (odd, so pairs straddle bins)."""
    rng = random.Random(99)
    settings_override = {"WATCHTIME_VIEW_GAP_SECONDS": 60, "WATCHTIME_RETENTION_RESOLUTION_SECONDS": 7,
                         "WATCHTIME_VIEW_MIN_SECONDS": 0, "WATCHTIME_COMPLETION_RATIO": 0.25, "WATCHTIME_COMPLETED_PERCENT": 50}
    from django.test import override_settings

    with override_settings(**settings_override):
        apply_and_compare(client_all, rng, scenarios.viewing(rng, users=3, streams=10))
    assert settings.WATCHTIME_VIEW_GAP_SECONDS == 1800


@pytest.mark.parametrize("seed", [3])
def test_the_embedded_default_sqlite_answers_the_same(tmp_path, seed):
    """The same apply code and reads on SQLite, in a process of its own (embedded mode, auth off)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/embedded.sqlite3", "DJANGO_DEBUG": "true",
           "WATCHTIME_AUTH": "false", "WATCHTIME_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "watchtime.settings"}
    result = subprocess.run([sys.executable, "-m", "tests.accounting.embedded", str(seed)], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["mismatched"] == [] and outcome["compared"] > 50
    assert outcome["drift"] == []
