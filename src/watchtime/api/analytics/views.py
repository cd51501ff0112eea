"""Thin views of the analytics API: parse the query, call one selector (or service), shape the answer."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from watchtime.analytics import selectors, services
from watchtime.analytics.ranges import DAY, INTERVALS, bucket_range, local_time, moment_range, zone_of
from watchtime.api.analytics import serializers
from watchtime.api.schema import COMMON_ERRORS, CURSOR_PARAMETERS, HEADERS, NOT_FOUND, error
from watchtime.db.router import replica_reads
from watchtime.definitions import Definitions, definitions_from_settings
from watchtime.rule.progress import percent
from watchtime.rule.progress import state as progress_state
from watchtime.timestamps import from_us

BAD_QUERY = {400: error("A query parameter is invalid; the message names it and its limit.")}
NOT_FOUND_OR_CURSOR = {404: error("Unknown user or movie, or an invalid cursor.")}


def _query(serializer_class, request) -> dict:
    # DRF reads an empty query parameter as absent (its HTML-form convention); an API answers it 400.
    query = serializer_class(data=request.query_params)
    if blank := sorted(name for name in query.fields if request.query_params.get(name) == ""):
        raise ValidationError({name: ["May not be blank."] for name in blank})
    query.is_valid(raise_exception=True)
    return query.validated_data


def _definitions(query: dict) -> Definitions:
    return definitions_from_settings().with_thresholds(
        min_view_seconds=query.get("min_view_seconds"), completion_ratio=query.get("completion_ratio")
    )


def _answer(output_class, body: dict, definitions: Definitions) -> Response:
    return Response(output_class({**body, "definitions": definitions.as_dict(), "as_of": selectors.as_of()}).data)


def _query_parameters(serializer_class) -> list[OpenApiParameter]:
    fields = serializer_class().fields
    return [OpenApiParameter(name, _openapi_type(field), description=field.help_text or "",
                             enum=list(field.choices) if isinstance(field, drf_serializers.ChoiceField) else None)
            for name, field in fields.items()]


def _openapi_type(field):
    if isinstance(field, drf_serializers.IntegerField):
        return int
    if isinstance(field, drf_serializers.FloatField):
        return float
    return str


class _SeriesApi(APIView):
    required_scopes = {"GET": "read"}

    def _series(self, request, output_class, series):
        query = _query(serializers.SeriesQuery, request)
        span = bucket_range(INTERVALS[query["interval"]], query.get("from"), query.get("to"), now=timezone.now(),
                            tz=zone_of(query.get("tz")))
        keys = [f.field_name for f in output_class().fields["results"].child.fields.values()]
        results = [dict(zip(keys, row, strict=True)) for row in series(span)]
        body = {"interval": span.interval.name, "from": span.start_time, "to": span.end_time, "tz": span.tz,
                "results": results}
        return _answer(output_class, body, definitions_from_settings())


SERIES_DOC = ("Watch time per local hour or day of zone `tz` over [from, to) (from floored, to ceiled), dense and "
              "oldest first; each start carries the zone's offset at that instant.")


class MovieSeriesApi(_SeriesApi):
    @extend_schema(parameters=[*_query_parameters(serializers.SeriesQuery), *HEADERS], description=SERIES_DOC,
                   responses={200: serializers.MovieSeriesOutput, **BAD_QUERY, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, movie_pk: int):
        movie = selectors.movie_of(movie_pk)
        return self._series(request, serializers.MovieSeriesOutput, lambda span: selectors.movie_series(movie_id=movie.pk, span=span))


class UserSeriesApi(_SeriesApi):
    @extend_schema(parameters=[*_query_parameters(serializers.SeriesQuery), *HEADERS], description=SERIES_DOC,
                   responses={200: serializers.UserSeriesOutput, **BAD_QUERY, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, username: str):
        user_id = selectors.user_id_of(username)
        return self._series(request, serializers.UserSeriesOutput, lambda span: selectors.user_series(user_id=user_id, span=span))


class OverallSeriesApi(_SeriesApi):
    @extend_schema(parameters=[*_query_parameters(serializers.SeriesQuery), *HEADERS], description=SERIES_DOC,
                   responses={200: serializers.OverallSeriesOutput, **BAD_QUERY, **COMMON_ERRORS})
    @replica_reads
    def get(self, request):
        return self._series(request, serializers.OverallSeriesOutput, lambda span: selectors.overall_series(span=span))


class TopMoviesApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[*_query_parameters(serializers.TopMoviesQuery), *HEADERS],
        description="Movies ranked over whole local days of zone `tz` [from, to); viewers are distinct over the whole range.",
        responses={200: serializers.TopMoviesOutput, **BAD_QUERY, **COMMON_ERRORS},
    )
    @replica_reads
    def get(self, request):
        query = _query(serializers.TopMoviesQuery, request)
        span = bucket_range(DAY, query.get("from"), query.get("to"), now=timezone.now(), tz=zone_of(query.get("tz")))
        definitions = _definitions(query)
        top = selectors.top_movies(span=span, by=query["by"], limit=query["limit"], definitions=definitions,
                                   configured=definitions_from_settings())
        body = {"from": span.start_time, "to": span.end_time, "tz": span.tz, "by": query["by"],
                "results": [vars(m) for m in top]}
        return _answer(serializers.TopMoviesOutput, body, definitions)


class AnalyticsPage(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def answer(self, results: list, definitions: Definitions) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": results,
                         "definitions": definitions.as_dict(), "as_of": selectors.as_of()})


class ProgressPage(AnalyticsPage):
    ordering = ("-last_watched_us", "-id")


class ViewsPage(AnalyticsPage):
    ordering = ("-started_us", "-id")


def _page_schema(name: str, item) -> type:
    return type(name, (drf_serializers.Serializer,), {
        "next": drf_serializers.URLField(allow_null=True), "previous": drf_serializers.URLField(allow_null=True),
        "results": item(many=True), **serializers.analytics_fields(),
    })


class ProgressApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        operation_id="users_progress_list",
        parameters=[*_query_parameters(serializers.ProgressQuery), *CURSOR_PARAMETERS, *HEADERS],
        description="Continue watching: the user's movies, newest last_watched_at first (hidden ones left out).",
        responses={200: _page_schema("ProgressPage", serializers.ProgressOutput), **BAD_QUERY, **NOT_FOUND_OR_CURSOR,
                   **COMMON_ERRORS},
    )
    @replica_reads
    def get(self, request, username: str):
        query = _query(serializers.ProgressQuery, request)
        definitions = definitions_from_settings()
        rows = selectors.progress_list(user_id=selectors.user_id_of(username), state=query["state"], definitions=definitions)
        paginator = ProgressPage()
        page = paginator.paginate_queryset(rows, request, view=self)
        results = [
            {
                "movie": wt.movie.id, "slug": wt.movie.slug, "title": wt.movie.title, "position": wt.last_moment,
                "duration": wt.movie.duration, "percent": percent(wt.last_moment, wt.movie.duration),
                "state": progress_state(wt.last_moment, wt.movie.duration, definitions.progress),
                "total_watch_time": wt.total, "last_watched_at": from_us(wt.last_watched_us),
            }
            for wt in page
        ]
        return paginator.answer(serializers.ProgressOutput(results, many=True).data, definitions)


class ProgressItemApi(APIView):
    required_scopes = {"DELETE": ("ingest", "admin")}

    @extend_schema(
        description="Remove from continue watching until a newer heartbeat for it arrives; totals are untouched.",
        parameters=HEADERS, responses={204: None, **NOT_FOUND, **COMMON_ERRORS},
    )
    def delete(self, request, username: str, movie_pk: int):
        services.progress_hide(user_id=selectors.user_id_of(username), movie_id=selectors.movie_of(movie_pk).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EngagementApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[*_query_parameters(serializers.EngagementQuery), *HEADERS],
        description="Over the movie's counted views that started in [from, to) (default: all time).",
        responses={200: serializers.EngagementOutput, **BAD_QUERY, **NOT_FOUND, **COMMON_ERRORS},
    )
    @replica_reads
    def get(self, request, movie_pk: int):
        query = _query(serializers.EngagementQuery, request)
        movie = selectors.movie_of(movie_pk)
        tz = zone_of(query.get("tz"))
        start_us, end_us = moment_range(query.get("from"), query.get("to"), tz)
        definitions = _definitions(query)
        figures = selectors.engagement(movie=movie, start_us=start_us, end_us=end_us, definitions=definitions)
        body = {"from": local_time(start_us, tz), "to": local_time(end_us, tz), "tz": tz, **vars(figures)}
        return _answer(serializers.EngagementOutput, body, definitions)


class UserViewsApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        operation_id="users_views_list",
        parameters=[*_query_parameters(serializers.ThresholdsQuery), *CURSOR_PARAMETERS, *HEADERS],
        description="The user's counted views, newest first.",
        responses={200: _page_schema("ViewPage", serializers.ViewOutput), **BAD_QUERY, **NOT_FOUND_OR_CURSOR, **COMMON_ERRORS},
    )
    @replica_reads
    def get(self, request, username: str):
        definitions = _definitions(_query(serializers.ThresholdsQuery, request))
        rows = selectors.user_views(user_id=selectors.user_id_of(username), definitions=definitions)
        paginator = ViewsPage()
        page = paginator.paginate_queryset(rows, request, view=self)
        results = [
            {
                "movie": v.movie.id, "slug": v.movie.slug, "session": v.stream.session, "started_at": from_us(v.started_us),
                "ended_at": from_us(v.ended_us), "watch_time": v.watch_time, "furthest_position": v.furthest_position,
                "completed": selectors.view_completed(v, definitions),
            }
            for v in page
        ]
        return paginator.answer(serializers.ViewOutput(results, many=True).data, definitions)


class RetentionApi(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(parameters=HEADERS, description="The share of the movie's viewers who watched each bin of it.",
                   responses={200: serializers.RetentionOutput, **NOT_FOUND, **COMMON_ERRORS})
    @replica_reads
    def get(self, request, movie_pk: int):
        definitions = definitions_from_settings()
        resolution = definitions.retention_resolution_seconds
        curve = selectors.retention(movie=selectors.movie_of(movie_pk), resolution=resolution)
        bins = [{"start": start, "viewers": viewers, "retention": share} for start, viewers, share in curve.bins]
        body = {"resolution": resolution, "duration": curve.duration, "viewers": curve.viewers, "bins": bins}
        return _answer(serializers.RetentionOutput, body, definitions)
