"""Thin views of the events API: parse input, call one write (accounting) or selector, serialize output."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from watchtime import metrics
from watchtime.accounting import catalogue, ingest
from watchtime.api.events.serializers import (
    EventBatchSerializer,
    EventOutputSerializer,
    IngestOutputSerializer,
    MovieInputSerializer,
    MovieOutputSerializer,
    MovieTotalOutputSerializer,
    RequiredBodySchema,
    UserTotalOutputSerializer,
    WatchTimeOutputSerializer,
)
from watchtime.api.lean import LeanApi, json_response
from watchtime.api.parsers import parse_strict_json
from watchtime.api.schema import (
    BODY_ERRORS,
    COMMON_ERRORS,
    CURSOR_PARAMETERS,
    HEADERS,
    INGEST_UNAVAILABLE,
    NOT_FOUND,
    error,
    paginated,
)
from watchtime.db.router import replica_reads
from watchtime.errors import DomainError
from watchtime.events import selectors
from watchtime.events.validation import EventsInvalid, parse_events

INVALID_CURSOR = {404: error("Invalid cursor.")}


class NewestFirstPagination(CursorPagination):
    ordering = ("-received_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ByIdPagination(CursorPagination):
    ordering = ("id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class EventListIngestApi(LeanApi):
    schema = RequiredBodySchema()
    required_scopes = {"GET": "read", "POST": "ingest"}
    counts_ingest_rejections = True
    lean_methods = frozenset({"POST"})

    def lean_post(self, request):
        """A JSON body that parses and validates; anything else is DRF's (see api.lean)."""
        if request.content_type != "application/json" or not request.body:
            return None
        try:
            events = parse_events(parse_strict_json(request.body), now=timezone.now())
        except Exception:
            return None  # DRF's path parses it again and refuses it (and counts the refusal)
        self._ingest(events)
        return json_response(self._accepted(events), status=status.HTTP_202_ACCEPTED)

    @staticmethod
    def _ingest(events) -> None:
        try:
            ingest.events_ingest(events=events)
        except DomainError as exc:
            metrics.INGEST_REJECTED.labels(reason=exc.code).inc()
            raise
        metrics.EVENTS_INGESTED.inc(len(events))

    @staticmethod
    def _accepted(events) -> dict:
        return {"accepted": len(events), "event_ids": [str(e.event_id) for e in events]}

    @extend_schema(
        operation_id="events_ingest",
        request=EventBatchSerializer,
        parameters=HEADERS,
        responses={202: IngestOutputSerializer, **COMMON_ERRORS, **BODY_ERRORS, **INGEST_UNAVAILABLE},
        description="Ingest one event object or an array of 1-1000 events. 202 means durably stored.",
    )
    def post(self, request):
        try:
            events = parse_events(request.data, now=timezone.now())
        except (EventsInvalid, ParseError):
            metrics.INGEST_REJECTED.labels(reason="invalid").inc()
            raise
        self._ingest(events)
        return Response(self._accepted(events), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="events_list",
        parameters=[OpenApiParameter("user", str), OpenApiParameter("slug", str), *CURSOR_PARAMETERS, *HEADERS],
        responses={200: paginated("EventPage", EventOutputSerializer), **INVALID_CURSOR, **COMMON_ERRORS},
    )
    def get(self, request):
        events = selectors.event_list(user=request.query_params.get("user"), slug=request.query_params.get("slug"))
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(EventOutputSerializer(page, many=True).data)


class UserTotalApi(LeanApi):
    required_scopes = {"GET": "read"}
    lean_methods = frozenset({"GET"})

    @replica_reads
    def lean_get(self, request, username: str):
        user = selectors.user_total_get(username=username)
        return json_response({"username": user.username, "total_watch_time": user.total_watch_time})

    @extend_schema(parameters=HEADERS, responses={200: UserTotalOutputSerializer, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, username: str):
        user = selectors.user_total_get(username=username)
        return Response(UserTotalOutputSerializer(user).data)


class MovieTotalApi(LeanApi):
    required_scopes = {"GET": "read"}
    lean_methods = frozenset({"GET"})

    @replica_reads
    def lean_get(self, request, movie_pk: int):
        movie = selectors.movie_total_get(movie_id=movie_pk)
        return json_response({"id": movie.id, "title": movie.title, "slug": movie.slug,
                              "total_watch_time": movie.total_watch_time})

    @extend_schema(parameters=HEADERS, responses={200: MovieTotalOutputSerializer, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, movie_pk: int):
        return Response(MovieTotalOutputSerializer(selectors.movie_total_get(movie_id=movie_pk)).data)


class WatchTimeApi(LeanApi):
    required_scopes = {"GET": "read"}
    lean_methods = frozenset({"GET"})

    @replica_reads
    def lean_get(self, request, username: str, movie_pk: int):
        wt = selectors.watch_time_get(username=username, movie_id=movie_pk)
        return json_response({"username": wt.username, "movie": wt.movie, "slug": wt.slug,
                              "total_watch_time": wt.total_watch_time, "last_moment": wt.last_moment})

    @extend_schema(
        parameters=HEADERS,
        responses={
            200: WatchTimeOutputSerializer, 404: error("Unknown user or movie, or never watched."), **COMMON_ERRORS
        },
    )
    @replica_reads
    def get(self, request, username: str, movie_pk: int):
        watch_time = selectors.watch_time_get(username=username, movie_id=movie_pk)
        return Response(WatchTimeOutputSerializer(watch_time).data)


class MovieListCreateApi(APIView):
    required_scopes = {"GET": "read", "POST": "admin"}

    @extend_schema(
        operation_id="movies_list",
        parameters=[OpenApiParameter("slug", str), *CURSOR_PARAMETERS, *HEADERS],
        responses={200: paginated("MoviePage", MovieOutputSerializer), **INVALID_CURSOR, **COMMON_ERRORS},
    )
    def get(self, request):
        paginator = ByIdPagination()
        page = paginator.paginate_queryset(selectors.movie_list(slug=request.query_params.get("slug")), request, view=self)
        return paginator.get_paginated_response(MovieOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="movies_create",
        request=MovieInputSerializer,
        parameters=HEADERS,
        responses={201: MovieOutputSerializer, 409: error("Slug taken."), **COMMON_ERRORS, **BODY_ERRORS},
    )
    def post(self, request):
        serializer = MovieInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        movie = catalogue.movie_create(**serializer.validated_data)
        return Response(MovieOutputSerializer(movie).data, status=status.HTTP_201_CREATED)


class MovieDetailApi(APIView):
    required_scopes = {"GET": "read", "PATCH": "admin", "DELETE": "admin"}

    @extend_schema(parameters=HEADERS, responses={200: MovieOutputSerializer, **NOT_FOUND, **COMMON_ERRORS})
    def get(self, request, movie_pk: int):
        return Response(MovieOutputSerializer(selectors.movie_get(movie_id=movie_pk)).data)

    @extend_schema(
        request=MovieInputSerializer(partial=True),
        parameters=HEADERS,
        responses={200: MovieOutputSerializer, **NOT_FOUND, 409: error("Slug taken."), **COMMON_ERRORS, **BODY_ERRORS},
    )
    def patch(self, request, movie_pk: int):
        movie = selectors.movie_get(movie_id=movie_pk)
        serializer = MovieInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        movie = catalogue.movie_update(movie=movie, **serializer.validated_data)
        return Response(MovieOutputSerializer(movie).data)

    @extend_schema(parameters=HEADERS, responses={204: None, **NOT_FOUND, **COMMON_ERRORS})
    def delete(self, request, movie_pk: int):
        catalogue.movie_delete(movie=selectors.movie_get(movie_id=movie_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
