"""Progress of a user-movie ("continue watching"): where the viewer is and how far through."""

from dataclasses import dataclass

COMPLETED = "completed"
IN_PROGRESS = "in_progress"
NOT_STARTED = "not_started"
STATES = (IN_PROGRESS, COMPLETED, NOT_STARTED)


@dataclass(frozen=True)
class ProgressDefinition:
    completed_percent: int = 90  # a user-movie is completed from this percent of the duration


def percent(position: int, duration: int | None) -> float | None:
    """100 x position / duration; None without a duration."""
    if not duration:
        return None
    return 100.0 * position / duration


def state(position: int, duration: int | None, definition: ProgressDefinition) -> str:
    share = percent(position, duration)
    if share is not None and share >= definition.completed_percent:
        return COMPLETED
    return IN_PROGRESS if position > 0 else NOT_STARTED
