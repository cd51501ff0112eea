"""The log's indexes by user and by movie go (a user's or a movie's events are found through their
streams, which are indexed by both): two index entries fewer for every event. And free space in
the pages of the tables every apply batch updates, so that their updates stay HOT (the new row
version on the same page, no index entry written): with full pages (PostgreSQL's default
fillfactor 100) most of them were not, and each wrote a new entry in every index of its table
(bench/: the WAL of a single-event drain 3.5 -> 2.3 KB per event, PostgreSQL's CPU a third less).
Existing pages take it up as rows move; `VACUUM FULL` (or pg_repack) applies it at once. SQLite has
no fillfactor: nothing to do there.

The previous release's filtered event lists (`GET /?user=`, `?slug=`), exports and erasures use
the dropped indexes: during a rolling upgrade they run without them, slower but right.
"""

from django.db import migrations

from watchtime.db.storage import fillfactor


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0009_horizon'),
    ]

    operations = [
        fillfactor(("events_stream", "events_watchtime", "events_customuser", "events_movie")),
        migrations.RemoveIndex(
            model_name='event',
            name='eventlog_user_received_idx',
        ),
        migrations.RemoveIndex(
            model_name='event',
            name='eventlog_movie_received_idx',
        ),
    ]
