"""After a scenario: what is stored, what should be, and the scenario's line in the results table.

The reference is computed independently of the service's incremental path: the watch-time rule
(`rule.credit.stream_total`) over the set of heartbeats the API answered 202 for (plus those
published and confirmed straight to the queue), grouped by stream (user, movie, session).

- lost: accepted event_ids missing from the event log.
- double-counted: event_ids stored more than once, plus totals (user, movie, user-movie) above
  the reference — where a redelivered or resent event would show if it were counted again.
- exact: every stored total equals the reference and nothing is lost or double-counted.
- duplicates dropped: what the consumers reported dropping as already stored or repeated
  (their "batch applied" log lines): deliberate re-sends, redeliveries after kills, stops and
  broker restarts, resends after unknown answers. A consumer killed between its commit and its
  log line takes that line with it, so under SIGKILL this is a lower bound.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tests.faults.load import Heartbeat
from tests.faults.stack import MAX_CREDIT_SECONDS, MAX_STEP_SECONDS
from watchtime.rule import credit as rule

LIMITS = rule.Limits(max_credit_seconds=MAX_CREDIT_SECONDS, max_step_seconds=MAX_STEP_SECONDS)


@dataclass
class Totals:
    users: dict[str, int]
    movies: dict[str, int]
    pairs: dict[tuple[str, str], int]


@dataclass
class Stored:
    event_ids: set[str]
    duplicate_rows: int
    totals: Totals


def read_stored(connection) -> Stored:
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_id::text FROM events_event")
        rows = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT username, total_watch_time FROM events_customuser WHERE total_watch_time <> 0")
        users = dict(cursor.fetchall())
        cursor.execute("SELECT slug, total_watch_time FROM events_movie WHERE total_watch_time <> 0")
        movies = dict(cursor.fetchall())
        cursor.execute(
            "SELECT u.username, m.slug, w.total FROM events_watchtime w JOIN events_customuser u ON u.id = w.user_id"
            " JOIN events_movie m ON m.id = w.movie_id WHERE w.total <> 0"
        )
        pairs = {(user, slug): total for user, slug, total in cursor.fetchall()}
    event_ids = set(rows)
    return Stored(event_ids, len(rows) - len(event_ids), Totals(users, movies, pairs))


def reference(heartbeats: Iterable[Heartbeat]) -> Totals:
    streams = defaultdict(list)
    for hb in heartbeats:
        streams[(hb.user, hb.slug, hb.session)].append(
            rule.Heartbeat(event_id=uuid.UUID(hb.event_id), at=hb.at, ts_us=hb.ts_us, key_us=hb.ts_us)
        )
    users, movies, pairs = defaultdict(int), defaultdict(int), defaultdict(int)
    for (user, slug, _session), stream in streams.items():
        total = rule.stream_total(stream, LIMITS)
        users[user] += total
        movies[slug] += total
        pairs[(user, slug)] += total
    drop_zero = lambda totals: {key: value for key, value in totals.items() if value}  # noqa: E731
    return Totals(drop_zero(users), drop_zero(movies), drop_zero(pairs))


def over_and_under(stored: Totals, expected: Totals) -> tuple[int, int]:
    """(totals above the reference, totals below it) over users, movies and pairs."""
    over = under = 0
    for got, want in ((stored.users, expected.users), (stored.movies, expected.movies), (stored.pairs, expected.pairs)):
        for key in got.keys() | want.keys():
            difference = got.get(key, 0) - want.get(key, 0)
            over += difference > 0
            under += difference < 0
    return over, under


@dataclass
class ScenarioRow:
    scenario: str
    sent: int  # distinct heartbeats the clients sent (HTTP, plus good messages published directly)
    accepted: int  # distinct heartbeats answered 202 (or confirmed by the broker when published directly)
    rejected_503: int  # 503 answers (each followed by a resend)
    unknown: int  # timeouts / connection errors (each followed by a resend)
    applied: int  # distinct heartbeats in the event log
    duplicates_dropped: int
    dead_lettered: int
    lost: int
    double_counted: int
    exact: bool
    seconds: float

    HEADER = ("scenario", "sent", "accepted", "503s", "unknown", "applied", "duplicates dropped", "dead-lettered",
              "lost", "double-counted", "exact", "seconds")

    def cells(self) -> list[str]:
        return [self.scenario, *map(str, (self.sent, self.accepted, self.rejected_503, self.unknown, self.applied,
                                          self.duplicates_dropped, self.dead_lettered, self.lost, self.double_counted)),
                "yes" if self.exact else "NO", f"{self.seconds:.0f}"]


def markdown_table(rows: list[ScenarioRow]) -> str:
    lines = ["| " + " | ".join(ScenarioRow.HEADER) + " |", "|" + "---|" * len(ScenarioRow.HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
