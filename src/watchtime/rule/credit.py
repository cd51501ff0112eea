"""The credit rule: what a stream's adjacent heartbeats earn, and "newest by key wins".

A stream is one (user, movie, session). Its heartbeats are ordered by key (wall-clock `ts` when
the player sent one, else the server's `received_at`; ties by position `at`, then `event_id`),
and every adjacent pair a -> b earns a credit. A stream's watch time is the sum of its pair
credits over the *set* of its distinct heartbeats, so it does not depend on delivery order,
duplicates, or how many consumers ran.

Times are integer microseconds since the epoch so that ordering and arithmetic are exact.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

MICROSECONDS = 1_000_000

Key = tuple[int, int, UUID]  # (key_us, at, event_id): the rule's order


@dataclass(frozen=True)
class Limits:
    max_credit_seconds: int = 120  # cap on one pair's credit when both carry a wall clock
    max_step_seconds: int = 15  # cap on one pair's credit when either lacks a wall clock


@dataclass(frozen=True, slots=True)
class Heartbeat:
    event_id: UUID
    at: int  # playback position, seconds
    ts_us: int | None  # player's wall clock, when sent
    key_us: int  # the key's time: `ts` when sent, else the server's receive time

    @property
    def key(self) -> Key:
        return (self.key_us, self.at, self.event_id)


@dataclass(frozen=True, slots=True)
class Newest:
    """The newest event by key of a set of events (a stream's head, a watch time's last event)."""

    key: Key
    pk: int
    at: int


def newest(a: Newest | None, b: Newest | None) -> Newest | None:
    """The newer of two (either may be None): the one with the larger key."""
    if a is None:
        return b
    if b is None:
        return a
    return b if b.key > a.key else a


def credit(a: Heartbeat, b: Heartbeat, limits: Limits) -> int:
    """Seconds credited for moving from heartbeat `a` to the next heartbeat `b`."""
    played = b.at - a.at
    if played <= 0:  # pause, rewind or repeat
        return 0
    if a.ts_us is not None and b.ts_us is not None:
        wall_seconds = max(0, b.ts_us - a.ts_us) // MICROSECONDS
        return min(played, wall_seconds + 1, limits.max_credit_seconds)
    return min(played, limits.max_step_seconds)


def chain_total(ordered: Sequence[Heartbeat], limits: Limits) -> int:
    """Sum of the credits of adjacent pairs of heartbeats already sorted by key."""
    return sum(credit(ordered[i], ordered[i + 1], limits) for i in range(len(ordered) - 1))


def stream_total(heartbeats: Iterable[Heartbeat], limits: Limits) -> int:
    """Watch time of one stream from any collection of its heartbeats (duplicates allowed)."""
    distinct = {hb.event_id: hb for hb in heartbeats}
    return chain_total(sorted(distinct.values(), key=_key), limits)


def added_credit(stored_tail: Sequence[Heartbeat], new: Iterable[Heartbeat], limits: Limits) -> int:
    """Change in a stream's total when `new` heartbeats join the stored ones.

    `stored_tail` is the stream's stored heartbeats sorted by key, from the last one that sorts
    before the earliest new heartbeat (if any) to the end. Pairs before that point are untouched by
    the new heartbeats, so the difference of the two tails is the exact change; for the common
    case of heartbeats arriving in order the tail is a single heartbeat.
    """
    merged = sorted([*stored_tail, *new], key=_key)
    return chain_total(merged, limits) - chain_total(stored_tail, limits)


def _key(hb: Heartbeat) -> Key:
    return hb.key
