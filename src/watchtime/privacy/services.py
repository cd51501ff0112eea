"""Erasure of a user (GDPR art. 17): every event, stream, watch time, view and fact of theirs goes,
and every total and aggregate they were part of is reduced by exactly their contribution, in one
transaction in the apply path's lock order."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from watchtime.analytics import rebuild
from watchtime.analytics.models import UserDay, UserHour, UserMovieDay
from watchtime.db import bulk_sql
from watchtime.definitions import definitions_from_settings
from watchtime.errors import DomainError
from watchtime.events.models import CustomUser, Event, EventId, Movie, Stream, WatchTime
from watchtime.privacy.models import Erasure, user_hash
from watchtime.timestamps import to_us


@dataclass(frozen=True)
class ErasureResult:
    username: str
    events_deleted: int
    watch_time_removed: int
    movies_affected: int


@transaction.atomic
def user_erase(*, username: str, suppress: bool = False) -> ErasureResult:
    """One transaction, whatever the user's size (deleting a million events takes seconds; a
    consistent state at every commit is then trivially true). Batches of this user that wait for
    its locks find the user gone and retry, seeing the erasure (events.apply)."""
    user = CustomUser.objects.filter(username=username, is_staff=False).values_list("id", flat=True).first()
    if user is None:
        raise DomainError("not_found", f"No user {username!r}.", status=404)
    # The apply path's lock order: streams, watch times, users, movies.
    bulk_sql.lock_ids(Stream.objects.filter(user_id=user))
    watch_times = list(WatchTime.objects.select_for_update().filter(user_id=user).order_by("id").values_list("movie_id", "total"))
    rebuild.remove_pairs([(user, movie) for movie, _ in watch_times], definitions_from_settings())
    bulk_sql.increment_locked(Movie, "total_watch_time", {movie: -total for movie, total in watch_times})
    log, ids = bulk_sql.table(Event), bulk_sql.table(EventId)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ids} WHERE event_id IN (SELECT event_id FROM {log} WHERE user_id = %s)", [user])
        cursor.execute(f"DELETE FROM {log} WHERE user_id = %s", [user])
        events_deleted = cursor.rowcount
    for model in (UserMovieDay, UserHour, UserDay):
        model.objects.filter(user_id=user).delete()
    Stream.objects.filter(user_id=user).delete()
    WatchTime.objects.filter(user_id=user).delete()
    CustomUser.objects.filter(id=user).delete()
    Erasure.objects.update_or_create(user_hash=user_hash(username), defaults={
        "erased_at_us": to_us(timezone.now()), "suppress": suppress})
    return ErasureResult(username, events_deleted, sum(total for _, total in watch_times), len(watch_times))


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
