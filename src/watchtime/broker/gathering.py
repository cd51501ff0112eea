"""Group commit's bookkeeping (no pika, no threads of its own): the parts that concurrent requests
hand the publisher, gathered into one message, and which requests one broker answer settles.

A part is one request's encoded items. Parts gather in the open group until it holds
`max_items` items (it is handed over at once) or its first part has waited the publisher's
`max_wait` (its timer hands it over); a part that does not fit closes the open group first, and
a part of `max_items` or more goes alone, so no request is ever split over two messages. A group
is OPEN, then QUEUED (closed, waiting for the I/O thread), then HANDED (published: its
`message` future is settled by the broker's confirm). Until it is handed over a part can be
withdrawn: its request stopped waiting and nothing of it reaches the broker.

The caller (the publisher) holds one lock around every call.
"""

import enum
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from watchtime.broker.confirms import settle


class Stage(enum.Enum):
    OPEN = "open"
    QUEUED = "queued"
    HANDED = "handed"


@dataclass(eq=False)
class Part:
    """One request's items, encoded; its future is settled with the message's outcome."""

    body: bytes
    items: int
    future: Future = field(default_factory=Future)
    group: "Group | None" = None


@dataclass(eq=False)
class Group:
    """The parts that go out as one message."""

    combine: Callable[[list[bytes]], bytes]
    content_type: str
    parts: list[Part] = field(default_factory=list)
    stage: Stage = Stage.OPEN
    message: Future | None = None  # set when handed over: the broker's answer to the message

    @property
    def items(self) -> int:
        return sum(part.items for part in self.parts)

    def body(self) -> bytes:
        return self.combine([part.body for part in self.parts])

    def settle(self, error: Exception | None) -> None:
        """Answer every request in the group with the message's outcome."""
        for part in self.parts:
            settle(part.future, error)


class Gathering:
    def __init__(self, max_items: int):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._open: Group | None = None
        self._waiting: list[Group] = []  # QUEUED, and OPEN ones with a timer armed

    def add(self, part: Part, *, combine, content_type: str) -> tuple[list[Group], Group | None]:
        """Gather `part`. Returns the groups to hand over now (in order) and the group this part
        opened, whose timer the caller arms (None when it joined an open group or went at once)."""
        ready: list[Group] = []
        group = self._open
        fits = (
            group is not None
            and group.combine is combine
            and group.content_type == content_type
            and group.items + part.items <= self.max_items
        )
        if not fits and group is not None:
            ready.append(self._queue(group))
            group = None
        opened = None
        if group is None:
            group = Group(combine, content_type)
            self._waiting.append(group)
            self._open = opened = group
        group.parts.append(part)
        part.group = group
        if group.items >= self.max_items:
            ready.append(self._queue(group))
            opened = None if opened is group else opened
        return ready, opened

    def single(self, part: Part, *, combine, content_type: str) -> Group:
        """A group of this part alone, queued at once (a message that is not gathered)."""
        group = Group(combine, content_type, [part], Stage.QUEUED)
        part.group = group
        self._waiting.append(group)
        return group

    def due(self, group: Group) -> bool:
        """The group's timer fired: close it if it is still open. True when it is now queued
        because of that (the caller hands it over)."""
        if group.stage is not Stage.OPEN:
            return False
        self._queue(group)
        return True

    def hand_over(self, group: Group) -> bool:
        """The I/O thread takes a queued group to publish it. False when there is nothing to
        publish (its parts were all withdrawn, or everything was given up)."""
        if group.stage is not Stage.QUEUED or group not in self._waiting:
            return False
        self._waiting.remove(group)
        group.stage = Stage.HANDED
        return bool(group.parts)

    def withdraw(self, part: Part) -> bool:
        """Take back a part whose group has not been handed over; False when it has (or the part
        was answered already)."""
        group = part.group
        if group is None or group.stage is Stage.HANDED or part not in group.parts:
            return False
        group.parts.remove(part)
        return True

    def give_up(self) -> list[Group]:
        """Every group not handed over (nothing of them reached the broker); the caller answers them."""
        groups, self._waiting, self._open = self._waiting, [], None
        for group in groups:
            group.stage = Stage.HANDED
        return groups

    def _queue(self, group: Group) -> Group:
        group.stage = Stage.QUEUED
        if self._open is group:
            self._open = None
        return group
