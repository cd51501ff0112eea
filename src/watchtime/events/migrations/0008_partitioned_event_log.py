"""The event log becomes range-partitioned by key time (PostgreSQL), in place and while the
previous release's API and consumers keep running.

The log's `event_id` uniqueness moves to `events_eventid` (the apply path records each batch's
ids there first; models.Event). The previous release writes `events_event` with `ON CONFLICT
(event_id)`. So that table stays as it is, with its unique index, and becomes the first partition
of the new log `events_eventlog`, covering every key before a cutover a week ahead (the previous
release must be gone by then: its inserts of later keys would fail). Nothing is copied. Steps,
each short for the writers:

1. `events_eventid`, and a trigger on `events_event` that records the previous release's ids in it
   (and skips one recorded already: it may have come through this release), then every stored id
   copied in chunks (the trigger records what arrives meanwhile). This release's transactions set
   `watchtime.ids_recorded`, which the trigger lets through.
2. `CREATE UNIQUE INDEX CONCURRENTLY (id, sort_us)` and a `CHECK (sort_us < cutover)` validated
   without blocking writes: together they make the attach a metadata change.
3. One short transaction: the ids move to a sequence of the log's own, the primary key becomes
   (id, sort_us), `events_event` is attached (its indexes are adopted, not rebuilt).
4. Daily partitions from the cutover for two weeks (`watchtime maintain` keeps them ahead).

SQLite (the embedded default) keeps one table, renamed, with the same EventId.
"""

from datetime import UTC, datetime, timedelta

from django.db import migrations, models

from watchtime.events import partitions

COPY_CHUNK = 50_000
CUTOVER_DAYS = 7
OLD_INDEXES = {
    "event_stream_key_idx": "eventlog_stream_key_idx",
    "event_received_idx": "eventlog_received_idx",
    "event_user_received_idx": "eventlog_user_received_idx",
    "event_movie_received_idx": "eventlog_movie_received_idx",
    "event_not_rolled_up_idx": "eventlog_not_rolled_up_idx",
}
DEDUPE_FUNCTION = """
CREATE OR REPLACE FUNCTION watchtime_event_dedupe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- This release's apply path records the ids itself, set-based, and says so.
    IF current_setting('watchtime.ids_recorded', true) = 'on' THEN
        RETURN NEW;
    END IF;
    -- The previous release's insert: record the id; a row whose id is recorded is skipped
    -- (INSERT .. RETURNING does not return it), as ON CONFLICT DO NOTHING would.
    INSERT INTO events_eventid (event_id, sort_us) VALUES (NEW.event_id, NEW.sort_us) ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    RETURN NULL;
END $$
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _postgresql(schema_editor)
    else:
        _sqlite(apps, schema_editor)


def _postgresql(schema_editor):
    connection = schema_editor.connection
    today = datetime.now(UTC).date()
    cutover = partitions.day_start_us(today + timedelta(days=CUTOVER_DAYS))
    with connection.cursor() as cursor:
        # 1. ids, recorded from now on by the trigger, and those stored copied.
        cursor.execute("CREATE TABLE IF NOT EXISTS events_eventid (event_id uuid PRIMARY KEY, sort_us bigint NOT NULL)")
        cursor.execute(DEDUPE_FUNCTION)
        cursor.execute("DROP TRIGGER IF EXISTS event_dedupe_legacy ON events_event")
        cursor.execute("CREATE TRIGGER event_dedupe_legacy BEFORE INSERT ON events_event FOR EACH ROW"
                       " EXECUTE FUNCTION watchtime_event_dedupe()")
        cursor.execute("SELECT coalesce(max(id), 0) FROM events_event")
        (last,) = cursor.fetchone()
        for start in range(0, last, COPY_CHUNK):
            cursor.execute("INSERT INTO events_eventid (event_id, sort_us) SELECT event_id, sort_us FROM events_event"
                           " WHERE id > %s AND id <= %s ON CONFLICT DO NOTHING", [start, start + COPY_CHUNK])
        # 2. What makes the attach a metadata change.
        cursor.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS events_event_id_key_time ON events_event (id, sort_us)")
        cursor.execute(f"ALTER TABLE events_event ADD CONSTRAINT events_event_before_cutover CHECK (sort_us < {cutover}) NOT VALID")
        cursor.execute("ALTER TABLE events_event VALIDATE CONSTRAINT events_event_before_cutover")
        # 3. The parent, and the attach.
        cursor.execute("CREATE TABLE events_eventlog (LIKE events_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                       " PARTITION BY RANGE (sort_us)")
        cursor.execute("ALTER TABLE events_eventlog DROP CONSTRAINT events_event_before_cutover")
        cursor.execute("ALTER TABLE events_eventlog ADD PRIMARY KEY (id, sort_us)")
        cursor.execute("CREATE SEQUENCE events_eventlog_id_seq OWNED BY events_eventlog.id")
        for old, new in OLD_INDEXES.items():
            # The parent's indexes are those of events_event, so the attach adopts them.
            cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [old])
            (definition,) = cursor.fetchone()
            using = definition[definition.index(" USING "):]
            cursor.execute(f"CREATE INDEX {new} ON events_eventlog{using}")
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL lock_timeout = '30s'")
        # The ids: the log's own sequence, continuing where events_event's identity stopped, so
        # the partition holding the old rows can be dropped one day (an identity belongs to it).
        cursor.execute("LOCK TABLE events_event IN ACCESS EXCLUSIVE MODE")
        cursor.execute("SELECT pg_get_serial_sequence('events_event', 'id')")
        (identity,) = cursor.fetchone()
        cursor.execute(f"SELECT setval('events_eventlog_id_seq', greatest((SELECT coalesce(max(id), 0) FROM events_event),"
                       f" (SELECT coalesce(last_value, 0) FROM {identity})) + 1, false)")
        cursor.execute("ALTER TABLE events_event ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cursor.execute("ALTER TABLE events_event ALTER COLUMN id SET DEFAULT nextval('events_eventlog_id_seq')")
        cursor.execute("ALTER TABLE events_eventlog ALTER COLUMN id SET DEFAULT nextval('events_eventlog_id_seq')")
        cursor.execute("ALTER TABLE events_event DROP CONSTRAINT events_event_pkey")
        cursor.execute("ALTER TABLE events_event ADD CONSTRAINT events_event_pkey PRIMARY KEY USING INDEX events_event_id_key_time")
        cursor.execute(f"ALTER TABLE events_eventlog ATTACH PARTITION events_event FOR VALUES FROM (MINVALUE) TO ({cutover})")
        cursor.execute("COMMIT")
    # 4. Days ahead.
    partitions.ensure_ahead(connection, first_day=today + timedelta(days=CUTOVER_DAYS), days=14)


def _sqlite(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    old_state_indexes = list(Event._meta.indexes)
    for index in old_state_indexes:
        schema_editor.remove_index(Event, index)
    schema_editor.alter_db_table(Event, "events_event", "events_eventlog")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE TABLE events_eventid (event_id char(32) NOT NULL PRIMARY KEY, sort_us bigint NOT NULL)")
        cursor.execute("INSERT INTO events_eventid (event_id, sort_us) SELECT event_id, sort_us FROM events_eventlog")


def sqlite_after_state(apps, schema_editor):
    """The field change (the unique index goes: uniqueness is events_eventid's) rebuilds the SQLite table."""
    if schema_editor.connection.vendor == "postgresql":
        return
    Event = apps.get_model("events", "Event")
    old = Event._meta.get_field("event_id")
    new = models.UUIDField()
    new.set_attributes_from_name("event_id")
    new.model = Event
    schema_editor.alter_field(Event, old, new)  # the rebuilt table gets the indexes of the state: the new names


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0007_prune_state"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, migrations.RunPython.noop)],
            state_operations=[
                migrations.CreateModel(
                    name="EventId",
                    fields=[("event_id", models.UUIDField(primary_key=True, serialize=False)), ("sort_us", models.BigIntegerField())],
                ),
                *[migrations.RenameIndex(model_name="event", new_name=new, old_name=old) for old, new in OLD_INDEXES.items()],
                migrations.AlterModelTable(name="event", table="events_eventlog"),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(sqlite_after_state, migrations.RunPython.noop)],
            state_operations=[migrations.AlterField(model_name="event", name="event_id", field=models.UUIDField())],
        ),
    ]
