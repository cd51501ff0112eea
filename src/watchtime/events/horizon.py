"""The event log's horizon and what a prune left on the streams, read only.

The horizon is a UTC midnight: `WATCHTIME_EVENT_RETENTION_DAYS` before today, or where the last
prune cut (Horizon), whichever is later. An event older than it cannot be placed exactly any
more (its neighbours may be gone): the API refuses one with a `ts` (400 too_old) and the apply
path drops any that slips through (outcome too_old). A pruned stream continues from its anchor:
its newest pruned heartbeat, the credit folded before it and the view it was in
(accounting.retention writes them).
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings

from watchtime.events import partitions
from watchtime.events.models import Horizon, Stream
from watchtime.rule.credit import Heartbeat
from watchtime.rule.folding import Anchor
from watchtime.rule.zones import quarter_of


def nominal_horizon_us(now: datetime) -> int | None:
    """Midnight (UTC) of the oldest day kept under WATCHTIME_EVENT_RETENTION_DAYS, or None."""
    days = settings.WATCHTIME_EVENT_RETENTION_DAYS
    if not days:
        return None
    return partitions.day_start_us(now.astimezone(UTC).date() - timedelta(days=days))


def pruned_before_us() -> int | None:
    return Horizon.objects.values_list("pruned_before_us", flat=True).first()


def folded_quarters_before() -> int | None:
    """Quarters (since the epoch) before this one hold only credit of pruned pairs: it stays as
    stored, nothing in the log can recompute it."""
    cut = pruned_before_us()
    return None if cut is None else quarter_of(cut)


def horizon_us(now: datetime) -> int | None:
    """What the apply path refuses older than: the later of the retention and the last prune."""
    candidates = [h for h in (nominal_horizon_us(now), pruned_before_us()) if h is not None]
    return max(candidates) if candidates else None


ANCHOR_FIELDS = ("anchor_event_id", "anchor_at", "anchor_ts_us", "anchor_key_us", "folded_total",
                 "anchor_view_started_us", "anchor_view_watch_time", "anchor_view_furthest")


def anchored_streams() -> dict[int, tuple[int, int, Anchor]]:
    """stream id -> (user id, movie id, its anchor) of every stream a prune folded."""
    rows = Stream.objects.filter(anchor_key_us__isnull=False).only("id", "user_id", "movie_id", *ANCHOR_FIELDS)
    return {s.id: (s.user_id, s.movie_id, anchor_of(s)) for s in rows.iterator(chunk_size=5000)}


def anchor_of(stream: Stream) -> Anchor:
    if stream.anchor_key_us is None:
        return Anchor()
    return Anchor(
        Heartbeat(event_id=stream.anchor_event_id, at=stream.anchor_at, ts_us=stream.anchor_ts_us, key_us=stream.anchor_key_us),
        stream.folded_total, stream.anchor_view_started_us, stream.anchor_view_watch_time, stream.anchor_view_furthest,
    )
