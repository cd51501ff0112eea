"""The partitioned event log (PostgreSQL): event ids unique across partitions, partitions made ahead."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from watchtime.accounting.apply import events_apply
from watchtime.events import partitions
from watchtime.events.models import Event, EventId, Stream
from watchtime.events.validation import EventIn

pytestmark = pytest.mark.django_db


def test_a_retry_without_ts_across_a_partition_boundary_counts_once():
    """A client retries an event without `ts`: the API gives the retry a new received_at, here on
    the next day, so its key lands in the next partition. The log still holds it once."""
    day = datetime.now(UTC).date() + timedelta(days=30)
    created = partitions.ensure_ahead(connection, first_day=day, days=2)
    assert created == [partitions.name_of(day), partitions.name_of(day + timedelta(days=1))]
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    first = EventIn(uuid.uuid4(), "alice", "heat", 0, "", None, midnight - timedelta(milliseconds=100))
    second = EventIn(uuid.uuid4(), "alice", "heat", 10, "", None, midnight - timedelta(milliseconds=50))
    retry = EventIn(second.event_id, "alice", "heat", 10, "", None, midnight + timedelta(milliseconds=100))
    events_apply(events=[first, second])
    result = events_apply(events=[retry])
    assert result.applied == [] and result.duplicates == 1
    assert Event.objects.filter(event_id=second.event_id).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM events_eventlog WHERE event_id = %s", [second.event_id])
        assert cursor.fetchone()[0] == partitions.name_of(day)
    assert Stream.objects.get().total == 10
    assert EventId.objects.filter(event_id=second.event_id).exists()


def test_duplicates_within_one_batch_and_across_batches_in_different_partitions():
    day = datetime.now(UTC).date() + timedelta(days=40)
    partitions.ensure_ahead(connection, first_day=day, days=3)
    base = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    same = uuid.uuid4()
    batch = [EventIn(same, "bob", "ran", 0, "", None, base), EventIn(same, "bob", "ran", 0, "", None, base + timedelta(days=1))]
    result = events_apply(events=batch)
    assert len(result.applied) == 1 and result.duplicates == 1
    assert Event.objects.filter(event_id=same).count() == 1


def test_ensure_ahead_is_idempotent_and_skips_days_the_cutover_partition_covers():
    today = datetime.now(UTC).date()
    assert partitions.ensure_ahead(connection, first_day=today, days=3) == []  # before the cutover: events_event
    names = [p.name for p in partitions.existing(connection)]
    assert names[0] == partitions.LEGACY and partitions.ensure_ahead(connection, days=21) == []
    assert [p.name for p in partitions.existing(connection)] == names
