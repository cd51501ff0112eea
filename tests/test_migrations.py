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
def test_the_event_log_dedupe_trigger_survives_every_migration():
    """The log's event_id uniqueness is a trigger; a later migration that rebuilds the table
    (SQLite does for most changes) would drop it silently."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events_eventlog'::regclass AND NOT tgisinternal")
        assert [name for (name,) in cursor.fetchall()] == ["event_dedupe"]


def test_the_sqlite_log_keeps_its_dedupe_trigger(tmp_path):
    import sqlite3

    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true", "WATCHTIME_VAR_DIR": str(tmp_path)}
    result = subprocess.run([support.WATCHTIME, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    triggers = sqlite3.connect(tmp_path / "watchtime.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events_eventlog'").fetchall()
    assert triggers == [("event_dedupe",)]
