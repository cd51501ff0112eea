"""Rebuilding one user-movie's analytics from the event log, in one transaction and in the one
lock order (locks): the backfill of an existing installation (and of user-movies the previous
release's consumers touched during a rolling upgrade), and taking a user-movie's contribution
out of every total and aggregate when its movie or user is deleted.

Every aggregate is a function of the facts stored per user-movie (credit per quarter, views,
coverage), so subtracting what the stored facts contributed and adding what the log gives keeps
every aggregate exact, whatever state the user-movie was in.
"""

import logging

from django.db import transaction

from watchtime.accounting import concurrency, locks, rollups
from watchtime.analytics import view_store
from watchtime.analytics.models import QuarterGrain, UserMovieQuarter, View
from watchtime.db import bulk_sql
from watchtime.events.horizon import anchor_of, folded_quarters_before, pruned_before_us
from watchtime.events.models import Event, Stream, WatchTime
from watchtime.rule import coverage
from watchtime.rule.credit import Heartbeat, Limits
from watchtime.rule.figures import PairFigures, pair_figures
from watchtime.rule.views import View as ViewFact

logger = logging.getLogger(__name__)

VIEW_COLUMNS = ("id", "stream_id", "started_us", "ended_us", "watch_time", "furthest_position")


def pending_pairs(limit: int) -> list[tuple[int, int]]:
    """User-movies whose analytics wait for a rebuild (oldest first)."""
    not_ready = list(WatchTime.objects.filter(analytics_ready=False).order_by("id").values_list("user_id", "movie_id")[:limit])
    touched_by_previous_release = list(
        Event.objects.filter(rolled_up=False).values_list("user_id", "movie_id").distinct()[:limit]
    )
    return sorted(set(not_ready) | set(touched_by_previous_release))[:limit]


def rebuild_pair(*, user_id: int, movie_id: int, limits: Limits, definitions) -> bool:
    """Rebuild one user-movie if it still needs it; returns whether it did."""
    with transaction.atomic():
        row = locks.pair(user_id, movie_id, ("id", "coverage", "analytics_ready", "folded_coverage"))
        if row is None:
            return False
        wt_id, runs, ready, folded = row
        if ready and not Event.objects.filter(user_id=user_id, movie_id=movie_id, rolled_up=False).exists():
            return False
        anchors = {s.id: anchor_of(s) for s in Stream.objects.filter(user_id=user_id, movie_id=movie_id, anchor_key_us__isnull=False)}
        streams = _events_by_stream(user_id, movie_id)
        want = pair_figures(streams.items(), limits, definitions.view.gap_us,
                            definitions.retention_resolution_seconds, anchors=anchors, folded_runs=coverage.decode(folded))
        changes = rollups.Changes()
        changes.movie_totals[movie_id] += 0  # the movie's lock, under which its concurrency rows are written
        write_facts = _replace_facts(user_id, movie_id, wt_id, coverage.decode(runs), want, changes, keep_folded=True)
        rollups.write(changes, view_definition=definitions.view)
        write_facts()
        concurrency.restate_streams(streams, movie_id, {s: a.heartbeat for s, a in anchors.items()}, limits)
        Event.objects.filter(user_id=user_id, movie_id=movie_id, rolled_up=False).update(rolled_up=True)
        return True


def remove_pairs(pairs: dict[tuple[int, int], int], definitions) -> None:
    """Take these user-movies out of every aggregate and delete their facts (a movie or user being
    deleted), and each one's watch time ((user, movie) -> total; 0 leaves them) out of its user's
    and movie's totals; the caller holds their stream and watch-time locks (locks.movie_pairs,
    locks.user_pairs)."""
    changes = rollups.Changes()
    writes = []
    for (user_id, movie_id), total in sorted(pairs.items()):
        changes.user_totals[user_id] -= total
        changes.movie_totals[movie_id] -= total
        row = WatchTime.objects.filter(user_id=user_id, movie_id=movie_id).values_list("id", "coverage").first()
        if row is not None:
            writes.append(_replace_facts(user_id, movie_id, row[0], coverage.decode(row[1]), PairFigures(), changes,
                                         keep_folded=False))
    rollups.write(changes, view_definition=definitions.view)  # one write: users, then movies, in order
    for write_facts in writes:
        write_facts()


def _events_by_stream(user_id: int, movie_id: int) -> dict[int, list[Heartbeat]]:
    streams: dict[int, list[Heartbeat]] = {}
    pair_streams = Stream.objects.filter(user_id=user_id, movie_id=movie_id).values("id")  # the log's index is by stream
    rows = Event.objects.filter(stream__in=pair_streams).order_by("stream_id", "sort_us", "at", "event_id")
    for stream_id, event_id, at, ts_us, sort_us in rows.values_list("stream_id", "event_id", "at", "ts_us", "sort_us"):
        streams.setdefault(stream_id, []).append(Heartbeat(event_id=event_id, at=at, ts_us=ts_us, key_us=sort_us))
    return streams


def _replace_facts(user_id: int, movie_id: int, wt_id: int, runs: list, want: PairFigures, changes: rollups.Changes,
                   *, keep_folded: bool):
    """Add to `changes` what swapping a user-movie's stored facts for `want` moves in every
    aggregate; returns the function that then writes the new facts (after `rollups.write`).
    With `keep_folded`, what a prune folded (credit before its quarter, views before an anchor)
    stays: it cannot come from the log."""
    folded_before = folded_quarters_before() if keep_folded else None
    stored_credit = dict(UserMovieQuarter.objects.filter(user_id=user_id, movie_id=movie_id).values_list("quarter", "watch_time"))
    if folded_before is not None:
        stored_credit = {q: v for q, v in stored_credit.items() if q >= folded_before}
    for quarter in {*stored_credit, *want.credit_by_quarter}:
        changes.credit[(user_id, movie_id, quarter)] = want.credit_by_quarter.get(quarter, 0) - stored_credit.get(quarter, 0)
    for k, sign in coverage.bin_deltas(*coverage.difference(runs, want.runs)):
        changes.bins[(movie_id, k)] += sign
    if bool(runs) != bool(want.runs):
        changes.movie_viewers[movie_id] += 1 if want.runs else -1
    anchors = {s.id: s.anchor_view_started_us for s in Stream.objects.filter(
        user_id=user_id, movie_id=movie_id, anchor_view_started_us__isnull=False)} if keep_folded else {}
    stored_views = [v for v in View.objects.filter(user_id=user_id, movie_id=movie_id).values_list(*VIEW_COLUMNS)
                    if v[1] not in anchors or v[2] >= anchors[v[1]]]  # views before an anchor's stay
    changes.views += [(movie_id, ViewFact(pk, *rest), None) for pk, _, *rest in stored_views]
    created = [(stream_id, user_id, movie_id, v) for stream_id, figures in want.streams.items() for v in figures.views]
    changes.views += [(movie_id, None, v) for *_, v in created]

    def write_facts() -> None:
        UserMovieQuarter.objects.filter(user_id=user_id, movie_id=movie_id, watch_time=0).delete()
        new_ids = view_store.save(created=created, updated=[], deleted=[pk for pk, *_ in stored_views])
        last_views = [(s, new_ids[(s, f.views[-1].started_us)]) for s, f in want.streams.items() if f.views]
        Stream.objects.filter(user_id=user_id, movie_id=movie_id).update(last_view_id=None)
        bulk_sql.update_from_values(Stream, ("last_view_id",), last_views)
        last_watched_us = want.newest.key_us if want.newest else 0
        bulk_sql.update_from_values(WatchTime, ("coverage", "last_watched_us", "analytics_ready"),
                                    [(wt_id, coverage.encode(want.runs), last_watched_us, True)])

    return write_facts


def _history_restated() -> None:
    """Every user-movie is rebuilt from the log: what stays by UTC hour (QuarterGrain) is only
    what a prune had folded, before its horizon."""
    cut = pruned_before_us()
    hourly = QuarterGrain.objects.filter(hours_before_us__isnull=False)
    if cut is None:
        hourly.update(hours_before_us=None)
    else:
        hourly.filter(hours_before_us__gt=cut).update(hours_before_us=cut)


def backfill(*, limits: Limits, definitions, batch: int = 200, stop=None) -> int:
    """Rebuild every user-movie that waits for it, one transaction each; returns how many.

    Resumable (each user-movie commits on its own) and safe beside running consumers of this
    and the previous release (the same locks as the apply path). `stop()` is asked between
    user-movies."""
    done = 0
    while True:
        pairs = pending_pairs(batch)
        if not pairs:
            _history_restated()
            return done
        progressed = False
        for user_id, movie_id in pairs:
            if stop is not None and stop():
                return done
            if rebuild_pair(user_id=user_id, movie_id=movie_id, limits=limits, definitions=definitions):
                done += 1
                progressed = True
        if not progressed:  # every pending pair was rebuilt by someone else meanwhile, or cannot be
            return done
        logger.info("analytics backfill progressing", extra={"rebuilt": done})
