"""OpenAPI documentation every area's views share, beyond what drf-spectacular infers from them:
the error shape and the error answers each operation can give, the response headers, and the
paginated list bodies (the views paginate by hand).
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_authenticated, too_large.")
    message = serializers.CharField()
    details = serializers.DictField(help_text="Per-field messages for `invalid`; empty otherwise.")


class ErrorSerializer(serializers.Serializer):
    """Every error answer has this shape."""

    error = ErrorDetailSerializer()


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


def paginated(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A cursor page of `item`s, as the views' CursorPagination answers."""
    fields = {
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last one."),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)


# Answers any operation can give (all need an API key).
COMMON_ERRORS = {
    400: error("Malformed request, e.g. a NUL character in the URL."),
    401: error("Missing or invalid API key."),
    403: error("The API key lacks the needed scope."),
    429: error("Rate limit exceeded; retry after Retry-After seconds."),
    503: error("The database (or, for ingest, the broker) is unavailable; retry after Retry-After seconds."),
}
NOT_FOUND = {404: error("No such resource.")}
# Ingest's 503s say whether the events may be stored (docs/architecture.md, "The 503 contract").
INGEST_UNAVAILABLE = {503: error(
    "`broker_unavailable`: nothing was accepted; `broker_unconfirmed`: not known to be stored, retry with the same "
    "event_ids; `database_unavailable` (embedded mode). `details.event_ids` lists the request's event ids in order. "
    "Retry after Retry-After seconds."
)}
BODY_ERRORS = {
    400: error("Invalid input or malformed request; nothing was changed."),
    411: error("A body without Content-Length (chunked)."),
    413: error("Body over 1 MiB."),
    415: error("Content-Type is not application/json."),
}
HEADERS = [
    OpenApiParameter(
        "WWW-Authenticate", str, location=OpenApiParameter.HEADER, response=[401], description="`Bearer`."
    ),
    OpenApiParameter(
        "Retry-After", int, location=OpenApiParameter.HEADER, response=[429, 503], description="Seconds."
    ),
]
CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a page's `next` or `previous` link."),
    # DRF falls back to the default for a page size it cannot use, so any string is accepted.
    OpenApiParameter("page_size", str, description="An integer from 1 to 500; otherwise the default, 50."),
]
