"""The live count's per-stream state (analytics.models.LiveStream), with free space in its pages so
the apply path's upserts stay HOT."""

import django.db.models.deletion
from django.db import migrations, models

from watchtime.db.storage import fillfactor


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_concurrency"),
        ("events", "0010_log_indexed_by_stream_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="LiveStream",
            fields=[
                ("stream", models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING,
                                                primary_key=True, related_name="+", serialize=False, to="events.stream")),
                ("received_us", models.BigIntegerField(help_text="received_at of the stream's newest heartbeat by key.")),
                ("credited", models.BooleanField(help_text="Whether the pair that heartbeat closed earned credit.")),
                ("movie", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING,
                                            related_name="+", to="events.movie")),
            ],
        ),
        fillfactor(("analytics_livestream",)),
    ]
