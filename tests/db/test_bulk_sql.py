"""The set-based SQL helpers on the test database (PostgreSQL)."""

import pytest

from watchtime.db import bulk_sql
from watchtime.events.models import CustomUser, Movie, Stream

pytestmark = pytest.mark.django_db


def streams(count: int) -> list[Stream]:
    user = CustomUser.objects.create(username="u", password="!")
    movie = Movie.objects.create(slug="m", title="m")
    return [Stream.objects.create(user=user, movie=movie, session=str(i), last_view_id=7) for i in range(count)]


def test_update_from_values_sets_nulls_even_when_every_row_is_null():
    """PostgreSQL types a VALUES column of only NULLs as text; the helper casts to the column's type."""
    rows = streams(3)
    bulk_sql.update_from_values(Stream, ("last_view_id",), [(s.pk, None) for s in rows])
    assert list(Stream.objects.values_list("last_view_id", flat=True)) == [None, None, None]


def test_update_from_values_increments():
    rows = streams(2)
    bulk_sql.update_from_values(Stream, ("total", "last_view_id"), [(rows[0].pk, 5, 1), (rows[1].pk, 7, 2)], increment=True)
    assert sorted(Stream.objects.values_list("total", "last_view_id")) == [(5, 8), (7, 9)]


def test_upsert_add_creates_then_adds_and_returns_the_values_after():
    from watchtime.analytics.models import QuarterReach

    columns = ("quarter", "previous_quarter"), ("viewers", "movies")
    assert bulk_sql.upsert_add(QuarterReach, *columns, {(1, -1): (1, 1)}) == {(1, -1): (1, 1)}
    after = bulk_sql.upsert_add(QuarterReach, *columns, {(1, -1): (-1, 0), (2, 1): (1, 1)})
    assert after == {(1, -1): (0, 1), (2, 1): (1, 1)}
