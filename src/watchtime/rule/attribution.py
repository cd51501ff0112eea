"""Which pairs a batch changes, and where their credit belongs: the UTC quarter hour of the later
heartbeat's key (which lies in exactly one local hour and day of any zone: rule.zones).

A late heartbeat x between p and n removes the pair p -> n and adds p -> x and x -> n; each
pair's credit leaves or enters the bucket of its later heartbeat, so every bucket stays what a
recompute from the event set gives, whatever the delivery order.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from watchtime.rule.credit import Heartbeat, Limits, credit
from watchtime.rule.zones import quarter_of

HOUR_US = 3_600 * 1_000_000
DAY_US = 24 * HOUR_US
HOURS_PER_DAY = 24


def hour_of(key_us: int) -> int:
    """Hours since the epoch (UTC) of a key time."""
    return key_us // HOUR_US


def day_of(key_us: int) -> int:
    """Days since the epoch (UTC) of a key time."""
    return key_us // DAY_US


@dataclass(frozen=True, slots=True)
class Pair:
    """Two adjacent heartbeats of a stream, by key, and the credit the rule gives the move."""

    a: Heartbeat
    b: Heartbeat
    credit: int

    @property
    def quarter(self) -> int:
        """The UTC quarter hour its credit belongs to: its later heartbeat's."""
        return quarter_of(self.b.key_us)

    @property
    def ids(self) -> tuple:
        return (self.a.event_id, self.b.event_id)


def pairs(ordered: Sequence[Heartbeat], limits: Limits) -> list[Pair]:
    """The adjacent pairs of heartbeats already sorted by key."""
    return [Pair(a, b, credit(a, b, limits)) for a, b in zip(ordered, ordered[1:])]


@dataclass(frozen=True)
class PairChanges:
    """How a stream's pairs change when new heartbeats join its stored ones."""

    merged: list[Heartbeat]  # the stored tail and the new heartbeats, by key
    removed: list[Pair]  # pairs of the stored tail that new heartbeats came between
    added: list[Pair]  # pairs that did not exist before

    @property
    def credit_delta(self) -> int:
        return sum(p.credit for p in self.added) - sum(p.credit for p in self.removed)


def pair_changes(stored_tail: Sequence[Heartbeat], new: Sequence[Heartbeat], limits: Limits) -> PairChanges:
    """`stored_tail`: the stream's stored heartbeats by key, from the last one before the earliest
    new heartbeat (if any) to the end (see credit.added_credit); pairs before it do not change."""
    merged = sorted([*stored_tail, *new], key=lambda hb: hb.key)
    before = pairs(stored_tail, limits)
    after = pairs(merged, limits)
    before_ids = {p.ids for p in before}
    after_ids = {p.ids for p in after}
    return PairChanges(
        merged=merged,
        removed=[p for p in before if p.ids not in after_ids],
        added=[p for p in after if p.ids not in before_ids],
    )
