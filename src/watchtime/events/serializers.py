"""Input and output shapes of the events API (also the source of the OpenAPI schema)."""

from rest_framework import serializers

from watchtime.events.models import SLUG_VALIDATOR, Movie
from watchtime.patterns import MAX_POSITION_SECONDS, SESSION_PATTERN, SLUG_PATTERN, USERNAME_PATTERN


class EventInputSerializer(serializers.Serializer):
    """Documents one ingest item; the hot path validates with events.validation (same rules)."""

    user = serializers.RegexField(USERNAME_PATTERN, min_length=1, max_length=150)
    slug = serializers.RegexField(SLUG_PATTERN, min_length=1, max_length=100)
    at = serializers.IntegerField(min_value=0, max_value=MAX_POSITION_SECONDS)
    event_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Generated when absent; resending it is harmless."
    )
    session = serializers.RegexField(SESSION_PATTERN, required=False, allow_null=True, max_length=64, allow_blank=True)
    ts = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Player wall clock, RFC 3339 with offset; not in the future."
    )


class IngestOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    event_ids = serializers.ListField(child=serializers.UUIDField())


class EventOutputSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    user = serializers.CharField(source="user.username")
    slug = serializers.CharField(source="movie.slug")
    at = serializers.IntegerField()
    session = serializers.CharField()
    ts = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField()


class UserTotalOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    total_watch_time = serializers.IntegerField()


class MovieTotalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.CharField()
    total_watch_time = serializers.IntegerField()


class WatchTimeOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    movie = serializers.IntegerField()
    slug = serializers.CharField()
    total_watch_time = serializers.IntegerField()
    last_moment = serializers.IntegerField()


class MovieOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Movie
        fields = ["id", "title", "slug", "duration", "total_watch_time"]


class StrictCharField(serializers.CharField):
    """JSON strings only: DRF would quietly turn 5 into "5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """JSON integers only: DRF would quietly accept "5", 5.0 and true."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class MovieInputSerializer(serializers.Serializer):
    title = StrictCharField(max_length=200)
    slug = StrictCharField(max_length=100, validators=[SLUG_VALIDATOR])
    duration = StrictIntegerField(min_value=0, max_value=MAX_POSITION_SECONDS, required=False, allow_null=True)
