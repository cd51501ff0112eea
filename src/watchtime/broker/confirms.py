"""The publisher's confirm bookkeeping (no pika, one thread): which handed-over messages a broker
confirm settles, and whether each one is stored, refused or not known to be stored."""

from concurrent.futures import Future, InvalidStateError

from watchtime.broker.types import BrokerUnavailable, PublishUnconfirmed


def settle(future: Future, error: Exception | None) -> None:
    """Answer a waiting request once; a later answer to the same request is dropped."""
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass


class Confirms:
    """Messages handed to one channel in confirm mode, by delivery tag (1, 2, ... per channel)."""

    def __init__(self):
        self._pending: dict[int, Future] = {}
        self._returned: set[int] = set()
        self._last_tag = 0

    def new_channel(self) -> None:
        """A new channel numbers its messages from 1 again; call after `fail_all`."""
        self._last_tag = 0

    def add(self, future: Future) -> int:
        """Record a message about to be published; its delivery tag (also its correlation id)."""
        self._last_tag += 1
        self._pending[self._last_tag] = future
        return self._last_tag

    def withdraw(self, tag: int) -> None:
        """The publish did not happen (the client library refused it before writing)."""
        self._pending.pop(tag, None)

    @property
    def idle(self) -> bool:
        """No message handed over awaits its confirm."""
        return not self._pending

    def waiting(self, future: Future) -> bool:
        return any(pending is future for pending in self._pending.values())

    def returned(self, tag: int) -> None:
        """basic.return: unroutable. It precedes the confirm of the same message."""
        self._returned.add(tag)

    def confirm(self, delivery_tag: int, *, multiple: bool, acked: bool) -> None:
        """basic.ack or basic.nack, of one message or (multiple) of every one up to the tag."""
        tags = [t for t in self._pending if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            future = self._pending.pop(tag, None)
            returned = tag in self._returned
            self._returned.discard(tag)
            if future is None:
                continue  # its request was answered already (given up at a block or a stall)
            if returned:
                settle(future, BrokerUnavailable("the broker returned the message (unroutable)"))
            elif acked:
                settle(future, None)
            else:
                # The broker says it did not take it; "not known to be stored" is never wrong, and
                # the retry it asks for (same event_ids) is harmless either way.
                settle(future, PublishUnconfirmed("the broker nacked the message"))

    def fail_all(self, reason: str) -> None:
        """Nothing more will be confirmed on this channel: each of its messages may or may not be stored."""
        pending, self._pending = self._pending, {}
        self._returned.clear()
        for future in pending.values():
            settle(future, PublishUnconfirmed(reason))
