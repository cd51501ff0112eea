"""CPU time per event or request, by process group, and WAL bytes: the capacity model's inputs.

CPU is read from /proc/<pid>/stat (user + system, every thread) before and after a measured
block, for each group of processes alive at its start (the consumers, the API's gunicorn
workers, the bench's PostgreSQL server and its backends, RabbitMQ's Erlang VM); WAL from
pg_current_wal_lsn(). A process that exits within the block loses its share (none do here).
"""

import os
from collections.abc import Callable
from pathlib import Path

from bench.stack import children

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def postgres_pids(stack) -> list[int]:
    """The bench cluster's postmaster and every process it forked (backends, walwriter, ...)."""
    postmaster = int((stack.postgres.data / "postmaster.pid").read_text().split()[0])
    return [postmaster, *children(postmaster)]


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
    """`with Meter(stack, **{"consumers": pids, "PostgreSQL": ...}) as m:` then m.cpu[group] seconds, m.wal bytes."""

    def __init__(self, stack, **groups: Callable[[], list[int]]):
        self.stack, self.groups = stack, groups
        self.cpu: dict[str, float] = {}
        self.wal = 0

    def __enter__(self):
        self._pids = {name: list(find()) for name, find in self.groups.items()}
        self._before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self._pids.items()}
        self._wal = wal_lsn(self.stack)
        return self

    def __exit__(self, *exc):
        self.cpu = {name: sum(cpu_seconds(p) for p in pids) - self._before[name] for name, pids in self._pids.items()}
        self.wal = wal_lsn(self.stack) - self._wal
        return False

    def per(self, count: int) -> dict[str, float]:
        """Microseconds of CPU per unit by group, and 'wal' bytes per unit."""
        out = {f"{name} cpu": seconds / count * 1e6 for name, seconds in self.cpu.items()}
        if "PostgreSQL" in self.cpu:  # WAL only where the database is part of the path
            out["wal"] = self.wal / count
        return out


UNITS = {"wal": "B"}


def add(b, label: str, meter: Meter, count: int, unit: str) -> dict[str, float]:
    """One figure per group (and WAL): what one `unit` cost over the measured block."""
    from bench.results import figure

    per = meter.per(count)
    for key, value in per.items():
        group = "WAL" if key == "wal" else key.replace(" cpu", " CPU")
        b.add(figure(f"cost per {unit}, {label}: {group}", [value], f"{UNITS.get(key, 'µs')}/{unit}",
                     setup=f"over {count:,} {unit}s; /proc/<pid>/stat user+system of every thread; WAL by pg_current_wal_lsn()"))
    b.costs[f"{label}"] = per
    return per
