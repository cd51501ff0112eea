"""The live count in the bench: a premiere's live rows for the read measurements, and probes that
time how soon an accepted heartbeat is counted live while the freshness run loads the consumer."""

import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

from bench import confirmed, workload

WINDOW_SECONDS = 30  # WATCHTIME_LIVE_WINDOW_SECONDS's default, which the bench's processes use
# Rows `maintain` keeps: streams received within the window and its 10-minute expiry margin.
KEPT_SECONDS = WINDOW_SECONDS + 600
LIVE_ROWS = 20_000  # a premiere's streams of the last ten minutes, the same at every dataset size
STREAM_IDS_FROM = 1_000_000_000  # past the dataset's streams (the table keeps no foreign key)
PROBE_TIMEOUT = 30.0

COUNTED_SQL = (
    "SELECT count(*) FROM analytics_livestream l JOIN events_movie m ON m.id = l.movie_id"
    " WHERE m.slug = %s AND l.credited AND l.received_us >= %s"
)


def fill(stack) -> tuple[int, int]:
    """LIVE_ROWS live rows, whatever the dataset's size (the live reads do not depend on the event
    log): half on the first movie (the premiere), half spread over the others; received over the
    last KEPT_SECONDS (so about 5 % within the window) and 90 % credited, as the apply path leaves
    them during a premiere with `maintain` running; then ANALYZE. Returns (rows, the premiere's movie id)."""
    stack.sql("TRUNCATE analytics_livestream")
    stack.sql(
        "INSERT INTO analytics_livestream (stream_id, movie_id, received_us, credited)"
        " SELECT %s + g, m.id, (extract(epoch FROM clock_timestamp()) * 1e6)::bigint - (random() * %s * 1e6)::bigint,"
        "  random() < 0.9"
        " FROM generate_series(0, %s) g JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k,"
        "  count(*) OVER () AS n FROM events_movie) m ON m.k = CASE WHEN g %% 2 = 0 THEN 0 ELSE g %% m.n END",
        [STREAM_IDS_FROM, KEPT_SECONDS, LIVE_ROWS - 1],
    )
    stack.sql("ANALYZE analytics_livestream")
    return stack.sql("SELECT count(*) FROM analytics_livestream")[0][0], stack.sql("SELECT min(id) FROM events_movie")[0][0]


class Probes:
    """While running, every `interval` s: publish a new stream's two heartbeats 10 s of wall clock
    and of position apart (the second closes a credited pair: live), with confirms, as the API does
    before its 202; then time how long until the live count of its movie includes it."""

    def __init__(self, stack, interval: float = 0.5):
        self.stack = stack
        self.interval = interval
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-probes", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=PROBE_TIMEOUT + 5)

    def _run(self) -> None:
        with closing(self.stack.connect()) as conn, conn.cursor() as cur:
            while not self._stop.is_set():
                self.delays.append(self._probe(cur))
                self._stop.wait(self.interval)

    def _probe(self, cur) -> float:
        slug = f"live-probe-{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        first = now - timedelta(seconds=10)
        events = [{"event_id": str(uuid.uuid4()), "user": slug, "slug": slug, "at": at, "session": "",
                   "ts": moment.isoformat(), "received_at": moment.isoformat()} for at, moment in ((0, first), (10, now))]
        confirmed.publish(self.stack.queue, [workload.message(events)])
        accepted = time.monotonic()
        window_start_us = int(now.timestamp() * 1_000_000) - WINDOW_SECONDS * 1_000_000
        while time.monotonic() - accepted < PROBE_TIMEOUT:
            cur.execute(COUNTED_SQL, [slug, window_start_us])
            if cur.fetchone()[0] == 1:
                return time.monotonic() - accepted
            time.sleep(0.01)
        return float("inf")  # never counted: fails the target, and says so
