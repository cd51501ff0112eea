"""The event log's daily partitions on PostgreSQL: naming, creating them ahead, finding them.

A partition holds one UTC day of keys, `events_eventlog_YYYYMMDD` = [day, day + 1). The
previous release's table `events_event` is the partition of every key before the cutover
(migration 0008). New partitions are attached rather than created `PARTITION OF`: ATTACH takes a
lock that lets the consumers keep inserting (CREATE .. PARTITION OF would stop them).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PARENT = "events_eventlog"
LEGACY = "events_event"
DAY_US = 86_400_000_000
EPOCH = date(1970, 1, 1)
NAME_RE = re.compile(rf"^{PARENT}_(\d{{8}})\Z")


def day_start_us(day: date) -> int:
    return (day - EPOCH).days * DAY_US


def day_of_us(key_us: int) -> date:
    return EPOCH + timedelta(days=key_us // DAY_US)


def name_of(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


@dataclass(frozen=True)
class Partition:
    name: str
    start_us: int | None  # None: from MINVALUE
    end_us: int

    @property
    def day(self) -> date | None:
        match = NAME_RE.match(self.name)
        return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def existing(connection) -> list[Partition]:
    """The log's partitions, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass", [PARENT]
        )
        rows = cursor.fetchall()
    out = []
    for name, bound in rows:
        low, high = re.match(r"FOR VALUES FROM \((.+)\) TO \((.+)\)", bound).groups()
        out.append(Partition(name, None if low == "MINVALUE" else int(low.strip("'")), int(high.strip("'"))))
    return sorted(out, key=lambda p: (p.start_us is not None, p.start_us or 0))


def ensure_ahead(connection, *, first_day: date | None = None, days: int = 14) -> list[str]:
    """Create the daily partitions from `first_day` (default today) for `days` days that do not
    exist; returns the names created. Idempotent; a day already covered (by the cutover
    partition) is skipped."""
    first_day = first_day or datetime.now(UTC).date()
    have = existing(connection)
    created = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start, end = day_start_us(day), day_start_us(day + timedelta(days=1))
        if any((p.start_us is None or p.start_us < end) and start < p.end_us for p in have):
            continue
        name = name_of(day)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            cursor.execute("SET lock_timeout = '10s'")
            cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
            cursor.execute("SET lock_timeout = 0")
        created.append(name)
        have.append(Partition(name, start, end))
    return created


def drop(connection, name: str) -> None:
    """Detach (without stopping the writers, outside a transaction) and drop one partition."""
    concurrently = "" if connection.in_atomic_block else " CONCURRENTLY"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}{concurrently}")
        cursor.execute(f"DROP TABLE {name}")


_covered_until_us = 0  # this process's knowledge of where the partitions end (they only grow)


def ensure_covers(connection, max_key_us: int) -> None:
    """Make sure a partition takes every key up to `max_key_us` (the apply path calls this before
    inserting, so a missed `watchtime maintain` never turns good events into failed batches)."""
    global _covered_until_us
    if max_key_us < _covered_until_us:
        return
    have = existing(connection)
    end = max((p.end_us for p in have), default=0)
    if max_key_us >= end:
        first = day_of_us(end) if end else day_of_us(max_key_us)
        ensure_ahead(connection, first_day=first, days=(day_of_us(max_key_us) - first).days + 2)
        end = max(p.end_us for p in existing(connection))
    _covered_until_us = end
