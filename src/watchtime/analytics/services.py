"""Analytics writes from the API: hiding a user-movie from continue-watching."""

from django.db.models import F

from watchtime.errors import DomainError
from watchtime.events.models import WatchTime


def progress_hide(*, user_id: int, movie_id: int) -> None:
    """Hide the user-movie from progress until a heartbeat newer (by key) than its newest arrives;
    totals are untouched. One UPDATE: it waits for the row lock of a batch applying to it."""
    hidden = WatchTime.objects.filter(user_id=user_id, movie_id=movie_id).update(progress_hidden_event_id=F("last_event_id"))
    if not hidden:
        raise DomainError("not_found", f"No progress of that user on movie {movie_id}.", status=404)
