"""Erasure of a user (GDPR art. 17): every event, stream, watch time, view and fact of theirs goes,
and every total and aggregate they were part of is reduced by exactly their contribution, in one
transaction in the one lock order (locks)."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from watchtime.accounting import concurrency, live, locks, rebuild
from watchtime.analytics.models import UserQuarter
from watchtime.db import bulk_sql
from watchtime.definitions import definitions_from_settings
from watchtime.errors import DomainError
from watchtime.events.models import CustomUser, Event, EventId, Stream, WatchTime
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
    its locks find the user gone and retry, seeing the erasure (accounting.apply)."""
    user = CustomUser.objects.filter(username=username, is_staff=False).values_list("id", flat=True).first()
    if user is None:
        raise DomainError("not_found", f"No user {username!r}.", status=404)
    watch_times = locks.user_pairs(user)
    rebuild.remove_pairs(watch_times, definitions_from_settings())
    concurrency.remove_streams(list(Stream.objects.filter(user_id=user).values_list("id", flat=True)))
    log, ids = bulk_sql.table(Event), bulk_sql.table(EventId)
    with connection.cursor() as cursor:
        # Through the user's streams: the log keeps no index by user (events.models.Event).
        of_user = f"stream_id IN (SELECT id FROM {bulk_sql.table(Stream)} WHERE user_id = %s)"
        cursor.execute(f"DELETE FROM {ids} WHERE event_id IN (SELECT event_id FROM {log} WHERE {of_user})", [user])
        cursor.execute(f"DELETE FROM {log} WHERE {of_user}", [user])
        events_deleted = cursor.rowcount
    UserQuarter.objects.filter(user_id=user).delete()
    live.user_forget(user)
    Stream.objects.filter(user_id=user).delete()
    WatchTime.objects.filter(user_id=user).delete()
    CustomUser.objects.filter(id=user).delete()
    Erasure.objects.update_or_create(user_hash=user_hash(username), defaults={
        "erased_at_us": to_us(timezone.now()), "suppress": suppress})
    return ErasureResult(username, events_deleted, sum(watch_times.values()), len(watch_times))
