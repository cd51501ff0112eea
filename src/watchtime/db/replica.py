"""The read replica as the router sees it: its replay lag, polled about once a second by a thread
of each process, and whether reads may go to it now (reachable, measured lately, within the limit).

The lag is polled, not measured per request: a read never waits on it, and a replica that hangs
(a network black hole) stalls only the poller, whose measurement then goes stale.
"""

import logging
import math
import os
import threading
import time

from django.conf import settings
from django.db import connections

from watchtime import metrics

logger = logging.getLogger(__name__)

ALIAS = "replica"  # settings.DATABASES key, present only when DATABASE_READ_URL is set
POLL_SECONDS = 1.0
# A measurement older than this means the poller is stuck reaching the replica: treat it as down.
STALE_SECONDS = 5.0
# 0 on a caught-up standby (an idle primary sends nothing to replay) and on a server that is not
# in recovery at all; otherwise the age of the last transaction replayed. NULL (behind, but
# nothing replayed since the standby started) means "behind by an unknown amount".
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)

UNAVAILABLE = "unavailable"
LAGGING = "lagging"


def configured() -> bool:
    return ALIAS in settings.DATABASES


def _over_limit(lag: float) -> bool:
    limit = settings.DATABASE_READ_MAX_LAG_SECONDS  # 0: no limit
    return bool(limit) and lag > limit


class ReplicaMonitor:
    """One per process: the latest lag measurement and why reads cannot use the replica, if so."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lag: float | None = None  # None: unreachable, or not measured yet
        self._measured_at = -math.inf
        self._reported: str | None = "unmeasured"  # the state last logged

    def start(self) -> None:
        """Start polling (again, in a forked child: threads do not survive fork)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._poll_forever, name="replica-lag", daemon=True)
            self._thread.start()

    def fallback_reason(self) -> str | None:
        """None when reads may go to the replica, else why not: `unavailable` or `lagging`."""
        self.start()
        lag, measured_at = self._lag, self._measured_at
        if lag is None or time.monotonic() - measured_at > STALE_SECONDS:
            return UNAVAILABLE
        return LAGGING if _over_limit(lag) else None

    def report_failure(self, exc: BaseException) -> None:
        """A read on the replica failed as an outage: stop sending reads until the next good poll."""
        self._lag = None
        self._transition(UNAVAILABLE, f"{type(exc).__name__}: {exc}".strip())

    def measure(self) -> float | None:
        """Run the lag query once on this thread's replica connection; None when it failed."""
        connection = connections[ALIAS]
        try:
            with connection.cursor() as cursor:
                cursor.execute(LAG_SQL)
                (value,) = cursor.fetchone()
        except Exception as exc:  # any failure means "do not read from it"; the reason goes to the log
            connection.close_if_unusable_or_obsolete()
            self._lag = None
            metrics.DEPENDENCY_UP.labels(dependency="replica").set(0)
            self._transition(UNAVAILABLE, f"{type(exc).__name__}: {exc}".strip())
            return None
        lag = math.inf if value is None else max(0.0, float(value))
        self._lag, self._measured_at = lag, time.monotonic()
        metrics.REPLICA_LAG_SECONDS.set(lag)
        metrics.DEPENDENCY_UP.labels(dependency="replica").set(1)
        if _over_limit(lag):
            self._transition(LAGGING, f"lag {lag:.1f} s is over DATABASE_READ_MAX_LAG_SECONDS={settings.DATABASE_READ_MAX_LAG_SECONDS}")
        else:
            self._transition(None, f"lag {lag:.1f} s")
        return lag

    def _poll_forever(self) -> None:
        while True:
            self.measure()
            time.sleep(POLL_SECONDS)

    def _transition(self, state: str | None, detail: str) -> None:
        # One log line per change of state, not one per read.
        with self._lock:
            if state == self._reported:
                return
            self._reported = state
        if state is None:
            logger.info("read replica in use (%s)", detail)
        else:
            logger.warning("read replica %s, its reads go to the primary: %s", state, detail)


_monitor = ReplicaMonitor()


def monitor() -> ReplicaMonitor:
    return _monitor
