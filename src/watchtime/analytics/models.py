"""Rollups, views and coverage, maintained by the one apply path in the batch's transaction.

Buckets are integers: hours or days since the epoch, UTC, of the key of a pair's later heartbeat.
Facts per viewer (user-movie-hour watch time, credited hours and movies, coverage in
WatchTime.coverage) make every distinct count exact when a late event moves credit; the
aggregates per movie and overall are what reads touch, so a read costs O(buckets).
References carry no database constraint (like the event log's): only the apply path and the
services that delete users or movies write here.
"""

from django.db import models

from watchtime.events.models import CustomUser, Movie, Stream

REFERENCE = {"on_delete": models.DO_NOTHING, "db_constraint": False, "db_index": False, "related_name": "+"}


class UserMovieHour(models.Model):
    """Seconds one viewer was credited on one movie in one hour: the fact every rollup sums."""

    pk = models.CompositePrimaryKey("user", "hour", "movie")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    hour = models.IntegerField()
    movie = models.ForeignKey(Movie, **REFERENCE)
    watch_time = models.BigIntegerField(default=0)


class UserMovieDay(models.Model):
    """How many hours of the day the viewer was credited on the movie (> 0: a viewer that day)."""

    pk = models.CompositePrimaryKey("user", "day", "movie")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    day = models.IntegerField()
    movie = models.ForeignKey(Movie, **REFERENCE)
    credited_hours = models.IntegerField(default=0)


class UserHour(models.Model):
    """How many movies the viewer was credited on in the hour (> 0: a viewer that hour)."""

    pk = models.CompositePrimaryKey("user", "hour")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    hour = models.IntegerField()
    credited_movies = models.IntegerField(default=0)


class UserDay(models.Model):
    """How many movies the viewer was credited on in the day."""

    pk = models.CompositePrimaryKey("user", "day")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    day = models.IntegerField()
    credited_movies = models.IntegerField(default=0)


class MovieHour(models.Model):
    pk = models.CompositePrimaryKey("movie", "hour")
    movie = models.ForeignKey(Movie, **REFERENCE)
    hour = models.IntegerField()
    watch_time = models.BigIntegerField(default=0)
    viewers = models.IntegerField(default=0, help_text="Users credited > 0 on the movie in the hour.")


class MovieDay(models.Model):
    pk = models.CompositePrimaryKey("movie", "day")
    movie = models.ForeignKey(Movie, **REFERENCE)
    day = models.IntegerField()
    watch_time = models.BigIntegerField(default=0)
    views = models.IntegerField(default=0, help_text="Counted views that started this day (configured thresholds).")
    completions = models.IntegerField(default=0, help_text="Of those, the complete ones.")

    class Meta:
        indexes = [models.Index(fields=["day", "movie"], name="movieday_day_idx")]  # top movies over a range

NEVER = -1  # MovieDayReach.previous_day of a viewer's first day on a movie


class MovieDayReach(models.Model):
    """Viewers of a movie on a day, by the day each last viewed it before (NEVER: never).

    Viewers over a range [F, T) are the rows with F <= day < T and previous_day < F: each viewer
    is counted once, on their first day in the range, so the count is exact for any range while
    a read touches O(days x distinct earlier days), not O(viewers).
    """

    pk = models.CompositePrimaryKey("movie", "day", "previous_day")
    movie = models.ForeignKey(Movie, **REFERENCE)
    day = models.IntegerField()
    previous_day = models.IntegerField()
    users = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "movie", "previous_day"], name="moviedayreach_day_idx")]


class Hour(models.Model):
    """All movies, one hour."""

    hour = models.IntegerField(primary_key=True)
    watch_time = models.BigIntegerField(default=0)
    viewers = models.IntegerField(default=0)
    movies = models.IntegerField(default=0)


class Day(models.Model):
    """All movies, one day."""

    day = models.IntegerField(primary_key=True)
    watch_time = models.BigIntegerField(default=0)
    viewers = models.IntegerField(default=0)
    movies = models.IntegerField(default=0)


class View(models.Model):
    """A maximal run of one stream's heartbeats without a gap over WATCHTIME_VIEW_GAP_SECONDS.

    Every run is kept, whatever the thresholds, so that `min_view_seconds` and
    `completion_ratio` can be chosen when reading.
    """

    stream = models.ForeignKey(Stream, **REFERENCE)
    user = models.ForeignKey(CustomUser, **REFERENCE)
    movie = models.ForeignKey(Movie, **REFERENCE)
    started_us = models.BigIntegerField(help_text="Key time of its first heartbeat.")
    ended_us = models.BigIntegerField(help_text="Key time of its last heartbeat.")
    watch_time = models.BigIntegerField(default=0)
    furthest_position = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["stream", "started_us"], name="view_stream_started_idx"),
            models.Index(fields=["user", "-started_us", "-id"], name="view_user_started_idx"),
            models.Index(fields=["movie", "started_us"], name="view_movie_started_idx"),
        ]


class RetentionBin(models.Model):
    """Viewers covering one bin of a movie (WATCHTIME_RETENTION_RESOLUTION_SECONDS wide)."""

    pk = models.CompositePrimaryKey("movie", "bin")
    movie = models.ForeignKey(Movie, **REFERENCE)
    bin = models.IntegerField()
    users = models.IntegerField(default=0)


class LiveStream(models.Model):
    """A stream's newest heartbeat by key, for the live count (analytics.live): when the server
    received it and whether the pair it closed earned credit.

    Its own small table, not columns of Stream: a live read filters on `received_us`, and an index
    on a column every batch changes would make every stream update non-HOT. Here only `movie` is
    indexed, which never changes, so the apply path's upsert stays HOT; reads scan the few rows
    `maintain` leaves (streams received within the last minutes).
    """

    stream = models.OneToOneField(Stream, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                  related_name="+")
    movie = models.ForeignKey(Movie, **{**REFERENCE, "db_index": True})
    received_us = models.BigIntegerField(help_text="received_at of the stream's newest heartbeat by key.")
    credited = models.BooleanField(help_text="Whether the pair that heartbeat closed earned credit.")
class StreamPlay(models.Model):
    """A run of UTC minutes one stream plays in (rule.concurrency): [first_minute, end_minute)."""

    pk = models.CompositePrimaryKey("stream", "first_minute")
    stream = models.ForeignKey(Stream, **REFERENCE)
    first_minute = models.IntegerField()
    end_minute = models.IntegerField()
    movie = models.ForeignKey(Movie, **REFERENCE)

    class Meta:
        indexes = [models.Index(fields=["end_minute", "first_minute"], name="streamplay_end_idx")]  # a quarter's streams


class FoldedPlay(models.Model):
    """What a prune keeps of a stream's played minutes near its anchor (rule.concurrency.folded_runs)."""

    stream = models.OneToOneField(Stream, primary_key=True, **REFERENCE)
    runs = models.TextField(default="")


class MovieMinute(models.Model):
    """Streams of the movie playing in one UTC minute (kept WATCHTIME_CONCURRENCY_MINUTE_DAYS)."""

    pk = models.CompositePrimaryKey("movie", "minute")
    movie = models.ForeignKey(Movie, **REFERENCE)
    minute = models.IntegerField()
    viewers = models.IntegerField(default=0)


class Minute(models.Model):
    """Streams of every movie playing in one UTC minute."""

    minute = models.IntegerField(primary_key=True)
    viewers = models.IntegerField(default=0)


class MovieQuarterPeak(models.Model):
    """A folded UTC quarter hour of a movie: its peak minute value and the first minute reaching it."""

    pk = models.CompositePrimaryKey("movie", "quarter")
    movie = models.ForeignKey(Movie, **REFERENCE)
    quarter = models.IntegerField()
    peak = models.IntegerField(default=0)
    peak_minute = models.IntegerField(null=True)


class QuarterPeak(models.Model):
    """A folded UTC quarter hour of every movie."""

    quarter = models.IntegerField(primary_key=True)
    peak = models.IntegerField(default=0)
    peak_minute = models.IntegerField(null=True)


class ConcurrencyFold(models.Model):
    """The one row: quarters before `before_quarter` are folded (minute values gone, peaks kept)."""

    before_quarter = models.IntegerField(default=0)
