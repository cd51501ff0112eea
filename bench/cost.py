"""CPU time per event or request, by process group, and WAL bytes: the capacity model's inputs.

CPU is read from /proc/<pid>/stat (user + system, every thread) before and after a measured
block, for each group of processes (the consumers, the API's gunicorn workers, the bench's
PostgreSQL server and its backends, RabbitMQ's Erlang VM); WAL from pg_current_wal_lsn(). A
group under one parent counts the children the parent has reaped too (the kernel adds an exited
child's time to its parent's), so a backend that exits within the block keeps its share: summing
only the live processes once gave PostgreSQL a negative cost.
"""

import os
from collections.abc import Callable
from pathlib import Path

from bench.stack import children

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def reaped_seconds(pid: int) -> float:
    """CPU of the children `pid` has waited for (cutime, cstime: fields 16 and 17)."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[13]) + int(fields[14])) / TICK


def live(pids: Callable[[], list[int]]) -> Callable[[], float]:
    """A group of processes none of which exits within the block: the sum over them now."""
    return lambda: sum(cpu_seconds(p) for p in pids())


def tree(parent: Callable[[], int], *, with_parent: bool) -> Callable[[], float]:
    """The children of a parent, those it has reaped included (and the parent itself)."""
    def read() -> float:
        pid = parent()
        return (cpu_seconds(pid) if with_parent else 0.0) + reaped_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))
    return read


def postgres(stack) -> Callable[[], float]:
    """The bench cluster: its postmaster and every process it forked (backends, walwriter, ...)."""
    return tree(lambda: int((stack.postgres.data / "postmaster.pid").read_text().split()[0]), with_parent=True)


def rabbitmq_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wal_lsn(stack) -> int:
    (lsn,) = stack.sql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0]
    return int(lsn)


class Meter:
    """`with Meter(stack, consumers=live(...), PostgreSQL=postgres(stack)) as m:` then m.cpu[group]
    seconds, m.wal bytes; each group is a reader of its cumulative CPU seconds."""

    def __init__(self, stack, **groups: Callable[[], float]):
        self.stack, self.groups = stack, groups
        self.cpu: dict[str, float] = {}
        self.wal = 0

    def __enter__(self):
        self._before = {name: read() for name, read in self.groups.items()}
        self._wal = wal_lsn(self.stack)
        return self

    def __exit__(self, *exc):
        self.cpu = {name: read() - self._before[name] for name, read in self.groups.items()}
        self.wal = wal_lsn(self.stack) - self._wal
        return False

    def per(self, count: int) -> dict[str, float]:
        """Microseconds of CPU per unit by group, and 'wal' bytes per unit."""
        out = {f"{name} cpu": seconds / count * 1e6 for name, seconds in self.cpu.items()}
        if "PostgreSQL" in self.cpu:  # WAL only where the database is part of the path
            out["wal"] = self.wal / count
        return out


UNITS = {"wal": "B"}


def add(b, label: str, meter: Meter, count: int, unit: str, *, targets: dict[str, dict] | None = None,
        setup: str = "") -> dict[str, float]:
    """One figure per group (and WAL): what one `unit` cost over the measured block. `targets`
    maps a figure's group ("API workers", "RabbitMQ", "WAL", ...) to results.figure's target
    arguments (at_most, raw_limit with max_ratio, ...); `setup` is added to every figure's."""
    from bench.results import figure

    per = meter.per(count)
    for key, value in per.items():
        group = "WAL" if key == "wal" else key.replace(" cpu", " CPU")
        target = (targets or {}).get(group.removesuffix(" CPU"), {})
        b.add(figure(f"cost per {unit}, {label}: {group}", [value], f"{UNITS.get(key, 'µs')}/{unit}", **target,
                     setup=f"over {count:,} {unit}s; /proc/<pid>/stat user+system of every thread; WAL by pg_current_wal_lsn()"
                           + (f"; {setup}" if setup else "")))
    b.costs[f"{label}"] = per
    return per
