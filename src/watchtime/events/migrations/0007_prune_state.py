"""Columns for the prune's folded state and the head's key time (database defaults: the previous
release keeps inserting during a rolling upgrade)."""

from django.db import migrations, models


def stream_field(name, field):
    return migrations.AddField(model_name="stream", name=name, field=field)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_backfill_indexes"),
    ]

    operations = [
        stream_field("head_key_us", models.BigIntegerField(blank=True, null=True)),
        stream_field("anchor_event_id", models.UUIDField(blank=True, null=True)),
        stream_field("anchor_at", models.IntegerField(blank=True, null=True)),
        stream_field("anchor_ts_us", models.BigIntegerField(blank=True, null=True)),
        stream_field("anchor_key_us", models.BigIntegerField(blank=True, null=True)),
        stream_field("folded_total", models.BigIntegerField(db_default=0)),
        stream_field("anchor_view_started_us", models.BigIntegerField(blank=True, null=True)),
        stream_field("anchor_view_watch_time", models.BigIntegerField(db_default=0)),
        stream_field("anchor_view_furthest", models.IntegerField(db_default=0)),
        migrations.AddField(model_name="watchtime", name="folded_coverage", field=models.TextField(blank=True, db_default="")),
    ]
