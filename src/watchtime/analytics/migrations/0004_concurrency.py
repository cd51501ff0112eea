"""Concurrency history (issue 24): per-stream play runs, minute values, folded quarter-hour peaks."""

import django.db.models.deletion
from django.db import migrations, models

from watchtime.db.storage import fillfactor


def fold_marker(apps, schema_editor):
    apps.get_model("analytics", "ConcurrencyFold").objects.create(id=1, before_quarter=0)


def backfill_existing(apps, schema_editor):
    """Existing viewing gets its concurrency history from the background backfill (`watchtime
    backfill`, accounting.rebuild), which rebuilds every user-movie marked so."""
    apps.get_model("events", "WatchTime").objects.filter(analytics_ready=True).update(analytics_ready=False)


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0003_quarters'),
        ('events', '0010_log_indexed_by_stream_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConcurrencyFold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('before_quarter', models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='FoldedPlay',
            fields=[
                ('stream', models.OneToOneField(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='events.stream')),
                ('runs', models.TextField(default='')),
            ],
        ),
        migrations.CreateModel(
            name='Minute',
            fields=[
                ('minute', models.IntegerField(primary_key=True, serialize=False)),
                ('viewers', models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='QuarterPeak',
            fields=[
                ('quarter', models.IntegerField(primary_key=True, serialize=False)),
                ('peak', models.IntegerField(default=0)),
                ('peak_minute', models.IntegerField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name='MovieMinute',
            fields=[
                ('pk', models.CompositePrimaryKey('movie', 'minute', blank=True, editable=False, primary_key=True, serialize=False)),
                ('minute', models.IntegerField()),
                ('viewers', models.IntegerField(default=0)),
                ('movie', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.movie')),
            ],
        ),
        migrations.CreateModel(
            name='MovieQuarterPeak',
            fields=[
                ('pk', models.CompositePrimaryKey('movie', 'quarter', blank=True, editable=False, primary_key=True, serialize=False)),
                ('quarter', models.IntegerField()),
                ('peak', models.IntegerField(default=0)),
                ('peak_minute', models.IntegerField(null=True)),
                ('movie', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.movie')),
            ],
        ),
        migrations.CreateModel(
            name='StreamPlay',
            fields=[
                ('pk', models.CompositePrimaryKey('stream', 'first_minute', blank=True, editable=False, primary_key=True, serialize=False)),
                ('first_minute', models.IntegerField()),
                ('end_minute', models.IntegerField()),
                ('movie', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.movie')),
                ('stream', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.stream')),
            ],
            options={
                'indexes': [models.Index(fields=['end_minute', 'first_minute'], name='streamplay_end_idx')],
            },
        ),
        fillfactor(("analytics_streamplay", "analytics_movieminute", "analytics_minute")),
        migrations.RunPython(fold_marker, migrations.RunPython.noop),
        migrations.RunPython(backfill_existing, migrations.RunPython.noop),
    ]
