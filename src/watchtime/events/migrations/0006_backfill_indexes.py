"""The partial indexes the backfill finds its work with, built without blocking writes.

On PostgreSQL CREATE INDEX CONCURRENTLY scans the event log while the previous release's
consumers keep writing (a plain CREATE INDEX would hold their inserts for the whole scan); it
cannot run in a transaction, hence atomic = False. SQLite (the embedded default) builds them
plainly.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0005_analytics_columns"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(condition=models.Q(("rolled_up", False)), fields=["user", "movie"], name="event_not_rolled_up_idx"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="watchtime",
            index=models.Index(condition=models.Q(("analytics_ready", False)), fields=["id"], name="watchtime_not_ready_idx"),
        ),
    ]
