"""Input (query) and output shapes of the analytics API; also the source of its OpenAPI schema."""

from rest_framework import serializers

from watchtime.analytics.ranges import INTERVALS
from watchtime.analytics.selectors import TOP_BY
from watchtime.rule.progress import COMPLETED, IN_PROGRESS, STATES

RANGE_HELP = "RFC 3339 date-time with an offset, or YYYY-MM-DD: that day's local midnight in `tz`."
TZ_HELP = "IANA time zone of the buckets and local dates (Asia/Kathmandu); default WATCHTIME_TIME_ZONE."


class LocalDateTimeField(serializers.DateTimeField):
    """A date-time as given, with its own offset (the zone's at that instant), not moved to UTC."""

    def to_representation(self, value):
        if value is None:
            return None
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


class ThresholdsQuery(serializers.Serializer):
    """Per-request view thresholds; the configured ones when absent."""

    min_view_seconds = serializers.IntegerField(required=False, min_value=0, max_value=86400,
                                                help_text="A view counts from this much watch time.")
    completion_ratio = serializers.FloatField(required=False, min_value=0.0, max_value=1.0,
                                              help_text="A counted view is complete at this share of the duration.")


class RangeQuery(serializers.Serializer):
    # "from" is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.CharField(required=False, max_length=64, help_text=RANGE_HELP)
    to = serializers.CharField(required=False, max_length=64, help_text=RANGE_HELP)
    tz = serializers.CharField(required=False, max_length=64, trim_whitespace=False, help_text=TZ_HELP)


class SeriesQuery(RangeQuery):
    interval = serializers.ChoiceField(choices=sorted(INTERVALS), default="day")


class TopMoviesQuery(RangeQuery, ThresholdsQuery):
    by = serializers.ChoiceField(choices=TOP_BY, default="watch_time")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


class EngagementQuery(RangeQuery, ThresholdsQuery):
    pass


class ProgressQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=[IN_PROGRESS, COMPLETED, "all"], default=IN_PROGRESS)


class DefinitionsOutput(serializers.Serializer):
    view_gap_seconds = serializers.IntegerField()
    min_view_seconds = serializers.IntegerField()
    completion_ratio = serializers.FloatField()
    completed_percent = serializers.IntegerField()
    retention_resolution_seconds = serializers.IntegerField()


def analytics_fields() -> dict:
    """What every analytics answer ends with (declared last in each shape: `locals().update(...)`)."""
    return {
        "definitions": DefinitionsOutput(help_text="The definitions this answer applied."),
        "as_of": serializers.DateTimeField(allow_null=True, help_text="received_at of the newest event applied."),
    }


class RangeOutput(serializers.Serializer):
    locals()["from"] = LocalDateTimeField(allow_null=True)
    to = LocalDateTimeField(allow_null=True)
    tz = serializers.CharField(help_text="The zone of the buckets and of every date-time of the answer.")


class MovieBucketOutput(serializers.Serializer):
    start = LocalDateTimeField(help_text="The bucket's first instant, with the zone's offset then.")
    watch_time = serializers.IntegerField()
    viewers = serializers.IntegerField()


class UserBucketOutput(serializers.Serializer):
    start = LocalDateTimeField(help_text="The bucket's first instant, with the zone's offset then.")
    watch_time = serializers.IntegerField()
    movies = serializers.IntegerField()


class OverallBucketOutput(serializers.Serializer):
    start = LocalDateTimeField(help_text="The bucket's first instant, with the zone's offset then.")
    watch_time = serializers.IntegerField()
    viewers = serializers.IntegerField()
    movies = serializers.IntegerField()


def _series_output(name: str, bucket) -> type:
    return type(name, (RangeOutput,), {"interval": serializers.CharField(), "results": bucket(many=True), **analytics_fields()})


MovieSeriesOutput = _series_output("MovieSeriesOutput", MovieBucketOutput)
UserSeriesOutput = _series_output("UserSeriesOutput", UserBucketOutput)
OverallSeriesOutput = _series_output("OverallSeriesOutput", OverallBucketOutput)


class TopMovieOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    watch_time = serializers.IntegerField()
    viewers = serializers.IntegerField(help_text="Distinct users credited > 0 over the whole range.")
    views = serializers.IntegerField()
    completions = serializers.IntegerField()


class TopMoviesOutput(RangeOutput):
    by = serializers.CharField()
    results = TopMovieOutput(many=True)
    locals().update(analytics_fields())


class ProgressOutput(serializers.Serializer):
    movie = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    position = serializers.IntegerField()
    duration = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    state = serializers.ChoiceField(choices=STATES)
    total_watch_time = serializers.IntegerField()
    last_watched_at = serializers.DateTimeField()


class EngagementOutput(RangeOutput):
    views = serializers.IntegerField()
    viewers = serializers.IntegerField()
    watch_time = serializers.IntegerField()
    average_view_seconds = serializers.FloatField(allow_null=True)
    completions = serializers.IntegerField(allow_null=True)
    completion_rate = serializers.FloatField(allow_null=True)
    average_percent = serializers.FloatField(allow_null=True)
    locals().update(analytics_fields())


class ViewOutput(serializers.Serializer):
    movie = serializers.IntegerField()
    slug = serializers.CharField()
    session = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    watch_time = serializers.IntegerField()
    furthest_position = serializers.IntegerField()
    completed = serializers.BooleanField(allow_null=True)


class RetentionBinOutput(serializers.Serializer):
    start = serializers.IntegerField(help_text="Position, seconds.")
    viewers = serializers.IntegerField()
    retention = serializers.FloatField(allow_null=True, help_text="viewers / the movie's viewers.")


class RetentionOutput(serializers.Serializer):
    resolution = serializers.IntegerField()
    duration = serializers.IntegerField(allow_null=True)
    viewers = serializers.IntegerField()
    bins = RetentionBinOutput(many=True)
    locals().update(analytics_fields())
