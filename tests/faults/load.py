"""The load: heartbeats with wall clocks over a few thousand streams, sent over HTTP with
keep-alive from a few threads, as single-event and batch POSTs, with duplicate re-sends and in
shuffled order; and a record of exactly which event_ids the API answered 202.

What a client does with each answer (the same as a real player, which dedupe makes safe):
- 202: the events are accepted (durably queued); counted as accepted.
- 503: not accepted. The client waits (Retry-After, shortened to keep the suite fast) and resends
  the same events with the same event_ids. A 503 never counts as accepted.
- timeout / connection error: unknown (the events may or may not have been queued). The client
  resends the same event_ids until it gets a definitive answer; if the first attempt was in fact
  queued, the consumer drops the resend as a duplicate.
- anything else: an error, which fails the scenario.
A request that has no 202 after GIVE_UP_SECONDS is "unresolved"; its events are not accepted.

To exercise the unknown case, an IMPATIENT_SHARE of first attempts wait only IMPATIENT_TIMEOUT
for the answer (a flaky mobile network): the server usually queues those events anyway, so the
resend is a duplicate that the consumers must drop.
"""

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from watchtime.rule.credit import MICROSECONDS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GIVE_UP_SECONDS = 120
RETRY_PAUSE_SECONDS = 0.3
IMPATIENT_SHARE = 0.03
IMPATIENT_TIMEOUT = 0.01


@dataclass(frozen=True)
class Heartbeat:
    event_id: str
    user: str
    slug: str
    session: str
    at: int
    ts_us: int

    def as_json(self) -> dict:
        ts = (EPOCH + timedelta(microseconds=self.ts_us)).isoformat().replace("+00:00", "Z")
        return {"event_id": self.event_id, "user": self.user, "slug": self.slug, "session": self.session,
                "at": self.at, "ts": ts}


@dataclass
class Workload:
    heartbeats: dict[str, Heartbeat]  # by event_id
    requests: list[list[str]]  # event_ids per POST; a one-element list is sent as a single object

    def body(self, index: int) -> bytes:
        items = [self.heartbeats[event_id].as_json() for event_id in self.requests[index]]
        return json.dumps(items[0] if len(items) == 1 else items).encode()


def make_workload(seed: int, *, streams: int = 3000, per_stream: int = 7, single_share: float = 0.05,
                  resend_share: float = 0.08, late_share: float = 0.05, users: int = 700, movies: int = 60) -> Workload:
    """`streams` x `per_stream` heartbeats, sent roughly in wall-clock order as players would, but
    shuffled: requests are reordered within a window of their neighbours, `late_share` of the
    heartbeats go out far later than their time (a player that was offline), and `resend_share`
    are sent a second time in another request. A `single_share` of requests carry one event;
    the rest are batches of 20-200."""
    rng = random.Random(seed)
    start_us = int((datetime.now(UTC) - timedelta(days=2) - EPOCH).total_seconds()) * MICROSECONDS
    keys = set()
    while len(keys) < streams:
        keys.add((f"u{rng.randrange(users)}", f"m{rng.randrange(movies)}", rng.choice(["", "tv", "phone"])))
    heartbeats: dict[str, Heartbeat] = {}
    for user, slug, session in sorted(keys):
        position = rng.randrange(0, 5000)
        clock = start_us + rng.randrange(0, 3600) * MICROSECONDS
        for _ in range(per_stream):
            # playing, paused, rewound, skipped ahead, or resumed after a long break
            step, wall = rng.choice([(10, 10), (10, 10), (10, 10), (0, 10), (-30, 10), (400, 10), (10, 900)])
            position = min(max(0, position + step), 86400)
            clock += wall * MICROSECONDS + rng.randrange(0, MICROSECONDS)
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            heartbeats[event_id] = Heartbeat(event_id, user, slug, session, position, clock)

    ids = sorted(heartbeats, key=lambda event_id: heartbeats[event_id].ts_us)
    late = set(rng.sample(ids, int(len(ids) * late_share)))
    in_time = [event_id for event_id in ids if event_id not in late]
    sizes = [1] * int(len(in_time) * single_share)
    remaining = len(in_time) - len(sizes)
    while remaining > 0:
        sizes.append(min(remaining, rng.randint(20, 200)))
        remaining -= sizes[-1]
    rng.shuffle(sizes)
    requests_: list[list[str]] = []
    for size in sizes:
        requests_.append(in_time[:size])
        in_time = in_time[size:]
    # Neighbouring requests overtake each other (several threads, retries, network).
    order = sorted(range(len(requests_)), key=lambda i: i + rng.uniform(-15, 15))
    requests_ = [requests_[i] for i in order]
    late_and_resent = [event_id for event_id in ids if event_id in late] + rng.sample(ids, int(len(ids) * resend_share))
    rng.shuffle(late_and_resent)
    while late_and_resent:
        size = rng.choice([1, 1, rng.randint(2, 60)])
        requests_.insert(rng.randrange(len(requests_) // 3, len(requests_) + 1), late_and_resent[:size])
        late_and_resent = late_and_resent[size:]
    return Workload(heartbeats, requests_)


@dataclass
class Answer:
    started: float  # time.monotonic()
    finished: float
    status: int | None  # None: timeout or connection error
    retry_after: str | None
    impatient: bool  # sent with IMPATIENT_TIMEOUT


@dataclass
class LoadResult:
    accepted: set[str] = field(default_factory=set)
    unresolved: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class LoadDriver:
    """Sends a workload's requests from `threads` keep-alive sessions, in the background."""

    def __init__(self, url: str, api_key: str, workload: Workload, *, threads: int = 4, timeout: float = 10):
        self.url = url.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.workload = workload
        self.timeout = timeout
        self.result = LoadResult()
        self._next = 0
        self._done = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"load-{i}", daemon=True) for i in range(threads)]

    def start(self) -> "LoadDriver":
        for thread in self._threads:
            thread.start()
        return self

    def join(self, timeout: float) -> LoadResult:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            raise AssertionError(f"load did not finish within {timeout} s ({self.progress():.0%} sent)")
        return self.result

    def progress(self) -> float:
        return self._done / len(self.workload.requests)

    def wait_progress(self, fraction: float, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.progress() < fraction:
            if time.monotonic() > deadline:
                raise AssertionError(f"load reached only {self.progress():.0%} of requests, wanted {fraction:.0%}")
            time.sleep(0.05)

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= len(self.workload.requests):
                return None
            self._next += 1
            return self._next - 1

    def _run(self) -> None:
        session = requests.Session()
        while (index := self._take()) is not None:
            self._send(session, index)
            with self._lock:
                self._done += 1

    def _send(self, session: requests.Session, index: int) -> None:
        event_ids = self.workload.requests[index]
        body = self.workload.body(index)
        give_up = time.monotonic() + GIVE_UP_SECONDS
        timeout = IMPATIENT_TIMEOUT if random.Random(index).random() < IMPATIENT_SHARE else self.timeout
        while True:
            started = time.monotonic()
            try:
                response = session.post(self.url, data=body, headers=self.headers, timeout=timeout)
                status, retry_after = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException:
                session.close()  # a broken keep-alive connection is not reused
                status, retry_after, response = None, None, None
            answer = Answer(started, time.monotonic(), status, retry_after, impatient=timeout != self.timeout)
            timeout = self.timeout
            with self._lock:
                self.result.answers.append(answer)
                self.result.statuses[status] += 1
            if status == 202:
                answered = response.json()["event_ids"]
                with self._lock:
                    if answered != event_ids:
                        self.result.errors.append(f"202 for {event_ids[:3]}... answered ids {answered[:3]}...")
                    self.result.accepted.update(event_ids)
                return
            if status not in (503, None):
                with self._lock:
                    self.result.errors.append(f"HTTP {status}: {response.text[:300]}")
                return
            if time.monotonic() > give_up:
                with self._lock:
                    self.result.unresolved.update(event_ids)
                return
            pause = RETRY_PAUSE_SECONDS
            if retry_after is not None:
                pause = min(float(retry_after), RETRY_PAUSE_SECONDS)
            time.sleep(pause * random.uniform(0.5, 1.5))
