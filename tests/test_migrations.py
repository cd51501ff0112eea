import subprocess

import pytest

from tests import support


def test_models_and_migrations_agree(tmp_path):
    """A model change without its migration would reach production unmigrated."""
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true", "WATCHTIME_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [support.WATCHTIME, "manage", "makemigrations", "--check", "--dry-run"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_inserts_of_the_previous_release_record_their_ids_and_skip_recorded_ones():
    """The previous release writes events_event with ON CONFLICT (event_id) during a rolling
    upgrade; its trigger records the id in events_eventid and skips a row whose id this release
    applied already (in any partition)."""
    import uuid

    from django.db import connection

    from watchtime.events.models import EventId

    recorded, fresh = uuid.uuid4(), uuid.uuid4()
    EventId.objects.create(event_id=recorded, sort_us=1)
    columns = "(event_id, stream_id, user_id, movie_id, at, session, received_at, sort_us)"
    with connection.cursor() as cursor:
        inserted = []
        for event_id in (recorded, fresh):
            cursor.execute(f"INSERT INTO events_event {columns} VALUES (%s, 1, 1, 1, 0, '', now(), 5)"
                           " ON CONFLICT (event_id) DO NOTHING RETURNING id", [event_id])
            inserted.append(cursor.fetchall())
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events_eventlog'::regclass AND NOT tgisinternal")
        assert cursor.fetchall() == []  # this release records its ids itself, set-based
    assert inserted[0] == [] and len(inserted[1]) == 1
    assert EventId.objects.filter(event_id=fresh).exists()
