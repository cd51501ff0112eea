"""CSV answers of the analytics API (`?format=csv`), rendered by djangorestframework-csv: a table's rows."""

from django.http import Http404
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework_csv.renderers import CSVRenderer, PaginatedCSVRenderer


class RowsCSVRenderer(PaginatedCSVRenderer):
    """The answer's `results`, one row each, its columns those of the view's `csv_header` (in the answer's order);
    no rows: the header line alone."""

    def render(self, data, media_type=None, renderer_context=None):
        body = super().render(data, media_type, renderer_context or {})
        header = (renderer_context or {}).get("header")
        return body or (",".join(header) + "\r\n").encode() if header else body


class BinsCSVRenderer(RowsCSVRenderer):
    results_field = "bins"


class CsvAnswers:
    """View mixin: `?format=` json or csv (another: 400); an error is answered in the one JSON error shape,
    whatever format the table was asked in."""

    csv_header: list[str] | None = None

    def get_renderer_context(self) -> dict:
        return {**super().get_renderer_context(), **({"header": self.csv_header} if self.csv_header else {})}

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            raise ValidationError({"format": ["Must be json or csv."]}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and isinstance(getattr(response, "accepted_renderer", None), CSVRenderer):
            response.accepted_renderer, response.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return response


def with_csv(renderer) -> list:
    """The API's renderers and `renderer` for `?format=csv`."""
    return [*api_settings.DEFAULT_RENDERER_CLASSES, renderer]


ROWS = with_csv(RowsCSVRenderer)
BINS = with_csv(BinsCSVRenderer)
ONE_ROW = with_csv(CSVRenderer)  # a single answer: one row, its nested figures flattened (definitions.*)
