"""The total reads' prepared statements, on the real PostgreSQL."""

import pytest
from django.db import connection

from watchtime.events import selectors
from watchtime.events.models import CustomUser, Movie, WatchTime

pytestmark = pytest.mark.django_db(transaction=True)


def prepared() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, 1 FROM pg_prepared_statements WHERE name LIKE 'watchtime_%%'")
        return dict(cursor.fetchall())


@pytest.fixture
def watched():
    user = CustomUser.objects.create(username="viewer", password="!", total_watch_time=70)
    movie = Movie.objects.create(title="M", slug="m", total_watch_time=90)
    WatchTime.objects.create(user=user, movie=movie, total=70, last_moment=40)
    return user, movie


def test_each_total_read_is_prepared_once_per_connection(watched):
    user, movie = watched
    for _ in range(3):
        assert selectors.user_total_get(username="viewer") == selectors.UserTotal("viewer", 70)
        assert selectors.movie_total_get(movie_id=movie.pk) == selectors.MovieTotal(movie.pk, "M", "m", 90)
        assert selectors.watch_time_get(username="viewer", movie_id=movie.pk) == selectors.WatchTimeTotal(
            "viewer", movie.pk, "m", 70, 40
        )
    assert prepared() == {"watchtime_user_total": 1, "watchtime_movie_total": 1, "watchtime_watch_time": 1}
    connection.close()  # a new connection prepares again
    assert selectors.user_total_get(username="viewer").total_watch_time == 70
    assert prepared() == {"watchtime_user_total": 1}


def test_a_read_survives_a_migration_changing_a_selected_column(watched):
    assert selectors.user_total_get(username="viewer").total_watch_time == 70
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE events_customuser ALTER COLUMN total_watch_time TYPE numeric")
    try:
        # The prepared plan's result type is stale: PostgreSQL refuses it; the read re-prepares.
        assert selectors.user_total_get(username="viewer").total_watch_time == 70
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE events_customuser ALTER COLUMN total_watch_time TYPE bigint")
