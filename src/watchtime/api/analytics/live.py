"""Thin views of the live count: overall with the top movies, and per movie (also to the embeddable
counter's read-only token, `?token=`, without an API key)."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from watchtime.analytics import live, selectors
from watchtime.api.schema import COMMON_ERRORS, HEADERS, NOT_FOUND, error
from watchtime.apikeys.authentication import ApiKeyAuthentication, LiveTokenAuthentication
from watchtime.apikeys.permissions import HasScopeOrLiveToken
from watchtime.timestamps import to_us

LIVE_DOC = ("Streams live now: their newest heartbeat (by key) was received within the last window_seconds and "
            "the pair it closed earned credit (docs/analytics.md, \"Live\"). Read from the primary.")


class LiveMovieOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    viewers = serializers.IntegerField()


class LiveOutput(serializers.Serializer):
    viewers = serializers.IntegerField(help_text="Live streams (a viewer in two tabs counts twice).")
    window_seconds = serializers.IntegerField(help_text="WATCHTIME_LIVE_WINDOW_SECONDS.")
    as_of = serializers.DateTimeField(help_text="The moment counted: the window is [as_of - window_seconds, as_of].")


class LiveOverallOutput(LiveOutput):
    movies = LiveMovieOutput(many=True, help_text="The 10 movies with most live streams, ties by id.")


def _now():
    now = timezone.now()
    return now, to_us(now)


class OverallLiveApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(description=LIVE_DOC, parameters=HEADERS, responses={200: LiveOverallOutput, **COMMON_ERRORS})
    def get(self, request):
        now, now_us = _now()
        window = settings.WATCHTIME_LIVE_WINDOW_SECONDS
        viewers, top = live.live_overview(now_us=now_us, window_seconds=window)
        movies = [vars(m) for m in top]
        return Response(LiveOverallOutput(
            {"viewers": viewers, "window_seconds": window, "as_of": now, "movies": movies}).data)


TOKEN_PARAMETER = OpenApiParameter(
    "token", str, required=False,
    description="A read-only token for this movie (`watchtime livetoken`), in place of an API key: for a counter "
                "embedded in a public page.")


class MovieLiveApi(APIView):
    required_scopes = {"GET": "read"}
    authentication_classes = [LiveTokenAuthentication, ApiKeyAuthentication]
    permission_classes = [HasScopeOrLiveToken]

    @extend_schema(
        description=LIVE_DOC, parameters=[TOKEN_PARAMETER, *HEADERS],
        responses={200: LiveOutput, **NOT_FOUND, **COMMON_ERRORS,
                   401: error("Missing or invalid API key, or a bad or expired token."),
                   403: error("The API key lacks the needed scope, or the token is for another movie.")},
    )
    def get(self, request, movie_pk: int):
        movie = selectors.movie_of(movie_pk)
        now, now_us = _now()
        window = settings.WATCHTIME_LIVE_WINDOW_SECONDS
        viewers = live.live_viewers(now_us=now_us, window_seconds=window, movie_id=movie.pk)
        return Response(LiveOutput({"viewers": viewers, "window_seconds": window, "as_of": now}).data)
