"""Thin views of erasure, suppression and export (admin scope)."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from watchtime.accounting import erasure
from watchtime.api.schema import COMMON_ERRORS, HEADERS, NOT_FOUND
from watchtime.privacy import export, tombstones


class ErasureOutput(serializers.Serializer):
    username = serializers.CharField()
    events_deleted = serializers.IntegerField()
    watch_time_removed = serializers.IntegerField()
    movies_affected = serializers.IntegerField()


class ErasureQuery(serializers.Serializer):
    suppress = serializers.BooleanField(default=False, help_text="Keep refusing the user's future events.")


class UserErasureApi(APIView):
    required_scopes = {"DELETE": "admin"}

    @extend_schema(
        parameters=[OpenApiParameter("suppress", bool, description="Keep refusing the user's future events."), *HEADERS],
        description="Erase the user: events, streams, watch times, views and every contribution to totals and rollups.",
        responses={200: ErasureOutput, **NOT_FOUND, **COMMON_ERRORS},
    )
    def delete(self, request, username: str):
        query = ErasureQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = erasure.user_erase(username=username, suppress=query.validated_data["suppress"])
        return Response(ErasureOutput(result).data)


class UserSuppressionApi(APIView):
    required_scopes = {"DELETE": "admin"}

    @extend_schema(parameters=HEADERS, description="Accept the user's events again.",
                   responses={204: None, **NOT_FOUND, **COMMON_ERRORS})
    def delete(self, request, username: str):
        tombstones.suppression_lift(username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserExportApi(APIView):
    required_scopes = {"GET": "admin"}

    @extend_schema(
        parameters=HEADERS,
        description="The user's data as NDJSON: a user line, a watch_time line per movie, then every event, oldest first.",
        responses={(200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR), **NOT_FOUND, **COMMON_ERRORS},
    )
    def get(self, request, username: str):
        lines = export.user_export(username=username)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="watchtime-{username}.ndjson"'
        return response
