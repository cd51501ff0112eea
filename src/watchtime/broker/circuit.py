"""The publisher's circuit: whether a message may be handed to the connection now, and if not, why.

A pure, thread-safe state machine (no pika, no I/O): the publisher's I/O thread reports what
happened to its connection, request threads ask `refusal()` before handing anything over.

- OPEN: no known-working connection (not connected yet, lost, or stalled: a confirm did not come
  in time). Refuse at once; the I/O thread reconnects in the background (the probe).
- CLOSED: a working connection (channel in confirm mode, topology declared). Hand over.
- BLOCKED: the broker sent `connection.blocked` (memory or disk alarm) and reads nothing more
  from this connection until `connection.unblocked`. Refuse at once; keep the connection, whose
  unblock tells us when to resume.
"""

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Snapshot:
    state: State
    reason: str  # why the circuit is not closed ("" when it is)
    since: float  # clock reading of the last change of state


class Circuit:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State.OPEN
        self._reason = "not connected yet"
        self._since = clock()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._state, self._reason, self._since)

    def refusal(self) -> str | None:
        """None when a message may be handed over now, else why not."""
        with self._lock:
            return None if self._state is State.CLOSED else self._reason

    def connected(self) -> bool:
        """A new connection works: close the circuit. True when this changed the state."""
        return self._move(State.CLOSED, "", frm=tuple(State))

    def lost(self, reason: str) -> bool:
        """The connection or its channel is gone, or a new one cannot be had (closed, heartbeat
        missed, socket timed out, connection refused). True when this opened the circuit."""
        return self._move(State.OPEN, reason, frm=tuple(State))

    def stalled(self, reason: str) -> bool:
        """A confirm did not come in time on a connection that is neither blocked nor already
        given up: it is stalled (say, a network blackhole). True when the caller must now abandon
        the connection. A blocked connection is expected to leave confirms waiting: not a stall."""
        return self._move(State.OPEN, reason, frm=(State.CLOSED,))

    def blocked(self, reason: str) -> bool:
        """The broker blocked the working connection (resource alarm)."""
        return self._move(State.BLOCKED, reason, frm=(State.CLOSED,))

    def unblocked(self) -> bool:
        """The broker unblocked the connection: resume, unless it was given up meanwhile."""
        return self._move(State.CLOSED, "", frm=(State.BLOCKED,))

    def _move(self, to: State, reason: str, *, frm: tuple[State, ...]) -> bool:
        with self._lock:
            if self._state not in frm:
                return False
            changed = self._state is not to
            self._state, self._reason = to, reason
            if changed:
                self._since = self._clock()
            return changed
