"""Rollups, views and coverage, maintained by the one apply path in the batch's transaction.

Buckets are integers: UTC quarter hours since the epoch of the key of a pair's later heartbeat
(every local hour and day of every zone since 1980 is a whole number of them: rule.zones).
Facts per viewer (user-movie-quarter watch time, credited movies, coverage in
WatchTime.coverage) make every distinct count exact when a late event moves credit; the
aggregates per movie and overall are what reads touch, so a read costs O(buckets).
References carry no database constraint (like the event log's): only the apply path and the
services that delete users or movies write here.
"""

from django.db import models

from watchtime.events.models import CustomUser, Movie, Stream

REFERENCE = {"on_delete": models.DO_NOTHING, "db_constraint": False, "db_index": False, "related_name": "+"}


class UserMovieQuarter(models.Model):
    """Seconds one viewer was credited on one movie in one UTC quarter hour: the fact every rollup sums."""

    pk = models.CompositePrimaryKey("user", "quarter", "movie")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    quarter = models.IntegerField()
    movie = models.ForeignKey(Movie, **REFERENCE)
    watch_time = models.BigIntegerField(default=0)


class UserQuarter(models.Model):
    """How many movies the viewer was credited on in the quarter (> 0: a viewer that quarter)."""

    pk = models.CompositePrimaryKey("user", "quarter")
    user = models.ForeignKey(CustomUser, **REFERENCE)
    quarter = models.IntegerField()
    credited_movies = models.IntegerField(default=0)


class MovieQuarter(models.Model):
    """A movie's watch time credited in the quarter, and its counted views that started in it."""

    pk = models.CompositePrimaryKey("movie", "quarter")
    movie = models.ForeignKey(Movie, **REFERENCE)
    quarter = models.IntegerField()
    watch_time = models.BigIntegerField(default=0)
    views = models.IntegerField(default=0, help_text="Counted views that started this quarter (configured thresholds).")
    completions = models.IntegerField(default=0, help_text="Of those, the complete ones.")

    class Meta:
        indexes = [models.Index(fields=["quarter", "movie"], name="moviequarter_quarter_idx")]  # top movies


class MovieUtcDay(models.Model):
    """MovieQuarter summed over a UTC day (96 quarters): a top list over local days reads the whole
    UTC days inside its range here and only its two edges by quarter, O(days), not O(quarters)."""

    pk = models.CompositePrimaryKey("movie", "day")
    movie = models.ForeignKey(Movie, **REFERENCE)
    day = models.IntegerField()
    watch_time = models.BigIntegerField(default=0)
    views = models.IntegerField(default=0)
    completions = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "movie"], name="movieutcday_day_idx")]


NEVER = -1  # previous_quarter of a first credited quarter


class MovieQuarterReach(models.Model):
    """Viewers of a movie in a quarter, by the quarter each was last credited on it before (NEVER: never).

    Viewers over any range of quarters [F, T) (a local hour, a local day, a top list's range) are
    the rows with F <= quarter < T and previous_quarter < F: each viewer counted once, on their
    first quarter in the range, so the count is exact for any range and any zone, never a sum.
    """

    pk = models.CompositePrimaryKey("movie", "quarter", "previous_quarter")
    movie = models.ForeignKey(Movie, **REFERENCE)
    quarter = models.IntegerField()
    previous_quarter = models.IntegerField()
    users = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["quarter", "movie", "previous_quarter"], name="mqreach_quarter_idx")]


class Quarter(models.Model):
    """All movies, one quarter: the watch time."""

    quarter = models.IntegerField(primary_key=True)
    watch_time = models.BigIntegerField(default=0)


class QuarterReach(models.Model):
    """All movies: viewers (users credited on any movie) and movies (credited by anyone) of a
    quarter, by the quarter each was last credited before; read like MovieQuarterReach."""

    pk = models.CompositePrimaryKey("quarter", "previous_quarter")
    quarter = models.IntegerField()
    previous_quarter = models.IntegerField()
    viewers = models.IntegerField(default=0)
    movies = models.IntegerField(default=0)


class QuarterGrain(models.Model):
    """One row: before `hours_before_us` the quarters hold hourly history (an upgrade from hour
    rollups, each hour's figures in its first quarter) that only whole-hour buckets read exactly.
    Null: every quarter is exact. The backfill lowers it to the log's horizon when it is done."""

    hours_before_us = models.BigIntegerField(null=True)


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
