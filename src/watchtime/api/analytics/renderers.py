"""CSV answers of the analytics API (`?format=csv`), rendered by djangorestframework-csv: a table's rows."""

from rest_framework.settings import api_settings
from rest_framework_csv.renderers import CSVRenderer, PaginatedCSVRenderer


class RowsCSVRenderer(PaginatedCSVRenderer):
    """The answer's `results`, one row each, its columns in the answer's order (not sorted)."""

    def tablize(self, data, header=None, labels=None):
        if not header and data:
            header = list(data[0])
        return super().tablize(data, header=header, labels=labels)


class BinsCSVRenderer(RowsCSVRenderer):
    results_field = "bins"


def with_csv(renderer) -> list:
    """The API's renderers and `renderer` for `?format=csv`."""
    return [*api_settings.DEFAULT_RENDERER_CLASSES, renderer]


ROWS = with_csv(RowsCSVRenderer)
BINS = with_csv(BinsCSVRenderer)
ONE_ROW = with_csv(CSVRenderer)  # a single answer: one row, its nested figures flattened (definitions.*)
