"""Watch-time data: who watched what, the event log, and the per-stream state of the rule.

Totals are maintained incrementally when events are applied, so every total read is one row.
"""

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models

from watchtime.patterns import MAX_POSITION_SECONDS, SLUG_HELP, SLUG_PATTERN

SLUG_VALIDATOR = RegexValidator(SLUG_PATTERN, SLUG_HELP)

# A stream's head and a watch time's newest event are rewritten by every batch that touches
# them. Without an index or a database constraint on the column those updates are HOT (no
# index entries written) and commit runs no per-row foreign-key check: together a third more
# apply throughput (bench/). Nothing else deletes events than a movie's deletion, which
# deletes the streams and watch times pointing at them in the same transaction, hence
# DO_NOTHING; `watchtime verify` checks every pointer against the log.
EVENT_POINTER = {"null": True, "blank": True, "on_delete": models.DO_NOTHING, "db_constraint": False, "db_index": False}
LOG_REFERENCE = {"on_delete": models.CASCADE, "db_constraint": False, "db_index": False}


class CustomUser(AbstractUser):
    """A viewer (and, with is_staff, an operator who may use the admin)."""

    total_watch_time = models.BigIntegerField(default=0, help_text="Seconds, over all movies.")


class Movie(models.Model):
    title = models.CharField(max_length=200)
    slug = models.CharField(max_length=100, unique=True, validators=[SLUG_VALIDATOR])
    duration = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_POSITION_SECONDS)], help_text="Seconds."
    )
    total_watch_time = models.BigIntegerField(default=0, help_text="Seconds, over all users.")
    # db_default on columns added after the first release: the previous release's code, still
    # running during a rolling upgrade, inserts rows without them.
    viewers = models.IntegerField(db_default=0, help_text="Users credited > 0 on this movie, ever.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.slug


class WatchTime(models.Model):
    """One user's watch time of one movie, summed over that pair's streams."""

    # db_index=False where a composite index or constraint below already leads with the column:
    # every extra index costs each apply batch an update.
    user = models.ForeignKey(CustomUser, on_delete=models.CASCADE, related_name="watch_times", db_index=False)
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="watch_times")
    total = models.BigIntegerField(default=0)
    last_moment = models.PositiveIntegerField(default=0, help_text="`at` of the newest event by key.")
    # The newest event by key, so a later-arriving event can be compared with it.
    last_event = models.ForeignKey("Event", related_name="+", **EVENT_POINTER)
    last_watched_us = models.BigIntegerField(db_default=0, help_text="Key time of the newest event.")
    # "Remove from continue watching": hidden while the newest event (by key) is still this one.
    progress_hidden_event_id = models.BigIntegerField(null=True, blank=True)
    # Bins of the movie this viewer covered, as runs with a count of covering pairs (rule.coverage).
    # Non-empty exactly when the viewer was credited > 0: Movie.viewers counts these.
    coverage = models.TextField(blank=True, db_default="")
    # Whether this user-movie's analytics rows (analytics.models, coverage, last_watched_us) are
    # exactly what its events give. False for rows of a release without analytics and for
    # user-movies the apply path could not update exactly; the backfill rebuilds them from the log.
    analytics_ready = models.BooleanField(db_default=False)
    # Coverage runs of the pairs a prune folded (they are in `coverage` too): verify adds the
    # kept events' pairs to these.
    folded_coverage = models.TextField(blank=True, db_default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="watchtime_user_movie_unique")]
        indexes = [models.Index(fields=["id"], condition=models.Q(analytics_ready=False), name="watchtime_not_ready_idx")]


class Stream(models.Model):
    """Per-(user, movie, session) state of the watch-time rule."""

    user = models.ForeignKey(CustomUser, on_delete=models.CASCADE, related_name="+", db_index=False)
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    session = models.CharField(max_length=64, blank=True, default="")
    total = models.BigIntegerField(default=0)
    # The stream's newest event by key: in-order events chain from it without a lookup. Its key
    # time lets the join find it in its partition of the event log (events.log).
    head = models.ForeignKey("Event", related_name="+", **EVENT_POINTER)
    head_key_us = models.BigIntegerField(null=True, blank=True)
    # The analytics View holding the head: in-order events extend it without a lookup.
    last_view_id = models.BigIntegerField(null=True, blank=True)
    # What a prune folded (accounting.retention): the newest pruned heartbeat (the predecessor of the
    # first kept one), the credit of the pruned pairs, and the state up to the anchor of the view
    # that holds it. From these and the kept events every figure is recomputed.
    anchor_event_id = models.UUIDField(null=True, blank=True)
    anchor_at = models.IntegerField(null=True, blank=True)
    anchor_ts_us = models.BigIntegerField(null=True, blank=True)
    anchor_key_us = models.BigIntegerField(null=True, blank=True)
    folded_total = models.BigIntegerField(db_default=0)
    anchor_view_started_us = models.BigIntegerField(null=True, blank=True)
    anchor_view_watch_time = models.BigIntegerField(db_default=0)
    anchor_view_furthest = models.IntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie", "session"], name="stream_user_movie_session_unique")
        ]


class Event(models.Model):
    """The log of distinct heartbeats. On PostgreSQL it is range-partitioned by key time (a day a
    partition; the previous release's table is the partition before the cutover: migration 0008);
    a prune drops whole partitions.

    `event_id` is unique over the whole log, which is what makes redelivery harmless: the apply
    path records a batch's ids in EventId first and inserts only those it could record (an index
    unique per partition could not see a retry without `ts` landing in another partition).
    """

    event_id = models.UUIDField()
    # The stream is indexed by the composite index in Meta, which leads with it; a user's or a
    # movie's events are found through their streams (Stream has both indexed), not by indexes of
    # the log's own: two index entries fewer for every event (bench/). No database
    # constraints: only events_apply writes rows here, with the ids of rows it has just locked
    # or created, and three per-row foreign-key checks at each commit cost the consumer a sixth
    # of its throughput (bench/). Deletion still cascades (Django's collector), and
    # `watchtime verify` reports events whose stream is gone.
    stream = models.ForeignKey(Stream, related_name="events", **LOG_REFERENCE)
    user = models.ForeignKey(CustomUser, related_name="events", **LOG_REFERENCE)
    movie = models.ForeignKey(Movie, related_name="events", **LOG_REFERENCE)
    at = models.PositiveIntegerField()
    session = models.CharField(max_length=64, blank=True, default="")
    ts = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    # The rule's ordering in exact integers: ts_us is `ts` and sort_us (the key's time) is `ts`
    # or else `received_at`, in microseconds since the epoch.
    ts_us = models.BigIntegerField(null=True, blank=True)
    sort_us = models.BigIntegerField()
    # Whether its user-movie's analytics include it. True for events of this release's apply path
    # (and for those stored before analytics existed, which WatchTime.analytics_ready covers); the
    # database default false marks events that the previous release's consumers write during a
    # rolling upgrade, whose user-movies the backfill then rebuilds.
    rolled_up = models.BooleanField(db_default=False)

    class Meta:
        db_table = "events_eventlog"
        indexes = [
            models.Index(fields=["stream", "sort_us", "at", "event_id"], name="eventlog_stream_key_idx"),
            models.Index(fields=["-received_at", "-id"], name="eventlog_received_idx"),
            models.Index(fields=["user", "movie"], condition=models.Q(rolled_up=False), name="eventlog_not_rolled_up_idx"),
        ]


class EventId(models.Model):
    """Every event id in the log, with its key time: the log's global uniqueness (see Event)."""

    event_id = models.UUIDField(primary_key=True)
    sort_us = models.BigIntegerField()


class Horizon(models.Model):
    """Where the last prune cut the log (one row): events with an older key are gone, and any
    that still arrives is dropped as too old, since it could not be placed exactly."""

    pruned_before_us = models.BigIntegerField(null=True, blank=True)
