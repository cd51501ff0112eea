"""Input and output shapes of the events API (also the source of the OpenAPI schema), and the
ingest body's documentation: one event, or an array of 1..MAX_BATCH, with no fields beyond the
documented ones."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from watchtime.events.models import SLUG_VALIDATOR, Movie
from watchtime.events.validation import MAX_BATCH
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


class EventBatchSerializer(serializers.Serializer):
    """Documents the ingest body; the view validates it with events.validation."""


class EventBatchSchema(OpenApiSerializerExtension):
    target_class = EventBatchSerializer

    def get_name(self, auto_schema, direction):
        return "EventOrBatch"

    def map_serializer(self, auto_schema, direction):
        event = auto_schema.resolve_serializer(EventInputSerializer, direction).ref
        return {"oneOf": [event, {"type": "array", "items": event, "minItems": 1, "maxItems": MAX_BATCH}]}


class EventInputSchema(OpenApiSerializerExtension):
    """An event with an unknown field is refused, so the schema says so."""

    target_class = EventInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target_class, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class RequiredBodySchema(AutoSchema):
    """drf-spectacular cannot tell from the oneOf above that the ingest body is required."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        return body and {**body, "required": True}
