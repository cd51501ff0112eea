"""The tombstones an erasure leaves (Erasure rows): which of a batch's events the apply path must
refuse, forgetting them once no queued event can predate them, and lifting a suppression."""

from datetime import timedelta

from watchtime.errors import DomainError
from watchtime.events.validation import EventIn
from watchtime.privacy.models import Erasure, user_hash
from watchtime.timestamps import to_us


def refused(events: list[EventIn]) -> set:
    """Event ids of users erased after the event was received, or suppressed."""
    hashes = {user_hash(name): name for name in {e.user for e in events}}
    erased = {hashes[h]: (at, suppress) for h, at, suppress in
              Erasure.objects.filter(user_hash__in=list(hashes)).values_list("user_hash", "erased_at_us", "suppress")}
    if not erased:
        return set()
    return {e.event_id for e in events if e.user in erased
            and (erased[e.user][1] or to_us(e.received_at) <= erased[e.user][0])}


# An erasure refuses the user's queued events for this long; a message waits in the queue for
# minutes, or hours during an outage, never weeks.
ERASURE_REMEMBERED = timedelta(days=30)


def erasures_expire(*, now) -> int:
    """Forget erasures without suppression once no queued event can predate them; how many."""
    deleted, _ = Erasure.objects.filter(suppress=False, erased_at_us__lt=to_us(now - ERASURE_REMEMBERED)).delete()
    return deleted


def suppression_lift(*, username: str) -> None:
    """Accept the user's events again (their data stays erased)."""
    if not Erasure.objects.filter(user_hash=user_hash(username), suppress=True).update(suppress=False):
        raise DomainError("not_found", f"No suppression for {username!r}.", status=404)
