"""Event ids as the API and the Python client make them: UUIDv7 (RFC 9562), standard library only
(the Python client imports it).

A version 7 UUID starts with its creation time in milliseconds, so ids made close in time sit
next to each other in the unique index of every event id (events_eventid): an insert touches the
index's right edge instead of a random leaf page, which after each checkpoint would be written to
the WAL whole. Any UUID a client sends is accepted as it is; these are only the ones we make.
"""

import os
import time
import uuid


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms & (2**48 - 1)) << 80 | int.from_bytes(os.urandom(10)) & (2**80 - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 4122/9562 variant
    return uuid.UUID(int=value)
