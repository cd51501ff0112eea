"""The consumers' background backfill: a thread that rebuilds waiting user-movies while the
consumer applies batches, so an upgrade completes its analytics without an operator's step."""

import logging
import threading

from django.db import connection

from watchtime import metrics
from watchtime.accounting.rebuild import backfill, pending_pairs
from watchtime.analytics.ranges import hourly_history_before_us
from watchtime.definitions import definitions_from_settings, limits_from_settings

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30.0
PENDING_COUNTED = 1000  # the gauge counts waiting user-movies up to this many


def start(stopping: threading.Event) -> threading.Thread:
    """Run until `stopping` is set: a backfill pass, then a check every IDLE_SECONDS for work that
    the previous release's consumers left during a rolling upgrade."""

    def run() -> None:
        limits, definitions = limits_from_settings(), definitions_from_settings()
        while not stopping.is_set():
            try:
                metrics.BACKFILL_PENDING.set(len(pending_pairs(PENDING_COUNTED)))
                done = backfill(limits=limits, definitions=definitions, stop=stopping.is_set)
                waiting = len(pending_pairs(PENDING_COUNTED))
                metrics.BACKFILL_PENDING.set(waiting)
                metrics.HOURLY_HISTORY_BEFORE.set((hourly_history_before_us() or 0) / 1e6)
                if done:
                    logger.info("analytics backfilled", extra={"user_movies": done, "waiting": waiting})
            except Exception as exc:  # a database outage: the next pass retries
                logger.warning("analytics backfill pass failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            finally:
                connection.close()
            stopping.wait(IDLE_SECONDS)

    thread = threading.Thread(target=run, name="analytics-backfill", daemon=True)
    thread.start()
    return thread
