"""What the apply path asks about erasures: which of a batch's events must be refused."""

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
