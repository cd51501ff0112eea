"""The rule's parameters, read from settings (the rule itself takes them as plain values)."""

from dataclasses import dataclass, replace

from django.conf import settings

from watchtime.rule.credit import Limits
from watchtime.rule.progress import ProgressDefinition
from watchtime.rule.views import ViewDefinition


def limits_from_settings() -> Limits:
    return Limits(
        max_credit_seconds=settings.WATCHTIME_MAX_CREDIT_SECONDS,
        max_step_seconds=settings.WATCHTIME_MAX_STEP_SECONDS,
    )


@dataclass(frozen=True)
class Definitions:
    """Every definition an analytics figure depends on; each analytics answer reports the ones it applied."""

    view: ViewDefinition
    progress: ProgressDefinition
    retention_resolution_seconds: int

    def with_thresholds(self, *, min_view_seconds: int | None = None, completion_ratio: float | None = None):
        """These definitions with a request's own view thresholds (None keeps the configured one)."""
        view = replace(
            self.view,
            min_view_seconds=self.view.min_view_seconds if min_view_seconds is None else min_view_seconds,
            completion_ratio=self.view.completion_ratio if completion_ratio is None else completion_ratio,
        )
        return replace(self, view=view)

    def as_dict(self) -> dict:
        return {
            "view_gap_seconds": self.view.gap_seconds,
            "min_view_seconds": self.view.min_view_seconds,
            "completion_ratio": self.view.completion_ratio,
            "completed_percent": self.progress.completed_percent,
            "retention_resolution_seconds": self.retention_resolution_seconds,
        }


def definitions_from_settings() -> Definitions:
    return Definitions(
        view=ViewDefinition(
            gap_seconds=settings.WATCHTIME_VIEW_GAP_SECONDS,
            min_view_seconds=settings.WATCHTIME_VIEW_MIN_SECONDS,
            completion_ratio=settings.WATCHTIME_COMPLETION_RATIO,
        ),
        progress=ProgressDefinition(completed_percent=settings.WATCHTIME_COMPLETED_PERCENT),
        retention_resolution_seconds=settings.WATCHTIME_RETENTION_RESOLUTION_SECONDS,
    )
