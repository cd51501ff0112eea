"""The load: heartbeats with wall clocks over a few thousand streams, sent over HTTP with
keep-alive from a few threads, as single-event and batch POSTs, with duplicate re-sends and in
shuffled order; and a record of exactly which event_ids the API answered 202.

What a client does with each answer (the same as a real player, which dedupe makes safe):
- 202: the events are accepted (durably queued); counted as accepted.
- 503: not accepted. The client waits (Retry-After, shortened to keep the suite fast) and resends
  the same events with the same event_ids. A 503 never counts as accepted; its body must carry
  the request's event_ids.
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
NOTHING_ACCEPTED = "broker_unavailable"
BROKER_CODES = (NOTHING_ACCEPTED, "broker_unconfirmed")  # their 503s carry the request's event_ids


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
    code: str | None = None  # the error code of a non-2xx answer
    thread: int = 0  # which client thread sent it

    @property
    def seconds(self) -> float:
        return self.finished - self.started


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
        self.threads = threads
        self.result = LoadResult()
        self._next = 0
        self._done = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), name=f"load-{i}", daemon=True)
                         for i in range(threads)]

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

    def _run(self, thread: int) -> None:
        session = requests.Session()
        while (index := self._take()) is not None:
            self._send(session, index, thread)
            with self._lock:
                self._done += 1

    def _send(self, session: requests.Session, index: int, thread: int) -> None:
        event_ids = self.workload.requests[index]
        body = self.workload.body(index)
        give_up = time.monotonic() + GIVE_UP_SECONDS
        timeout = IMPATIENT_TIMEOUT if random.Random(index).random() < IMPATIENT_SHARE else self.timeout
        while True:
            started = time.monotonic()
            code = None
            try:
                response = session.post(self.url, data=body, headers=self.headers, timeout=timeout)
                status, retry_after = response.status_code, response.headers.get("Retry-After")
                if status >= 400:
                    code = response.json()["error"]["code"]
            except requests.RequestException:
                session.close()  # a broken keep-alive connection is not reused
                status, retry_after, response = None, None, None
            answer = Answer(started, time.monotonic(), status, retry_after, impatient=timeout != self.timeout,
                            code=code, thread=thread)
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
            if code in BROKER_CODES and response.json()["error"]["details"].get("event_ids") != event_ids:
                with self._lock:
                    self.result.errors.append(f"503 for {event_ids[:3]}... without these event_ids: {response.text[:300]}")
            if time.monotonic() > give_up:
                with self._lock:
                    self.result.unresolved.update(event_ids)
                return
            pause = RETRY_PAUSE_SECONDS
            if retry_after is not None:
                pause = min(float(retry_after), RETRY_PAUSE_SECONDS)
            time.sleep(pause * random.uniform(0.5, 1.5))


class Prober:
    """A client that starts while a fault lasts and takes the 503s at their word: it POSTs fresh
    heartbeats (new streams, `per_request` to a request) one request at a time, never resends an
    answer of "nothing was accepted" (those events are `refused`: if one is in the event log, it
    was applied after a 503 that said it would not be), and after the fault resends everything
    else ("not known to be stored", no answer) until it gets a 202, as the contract asks."""

    def __init__(self, url: str, api_key: str, *, seed: int, thread: int, per_request: int = 5,
                 interval: float = 0.2):
        self.url = url.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.thread = thread  # its answers' `thread`, after the load's own
        self.per_request = per_request
        self.interval = interval
        self._rng = random.Random(seed)
        self._start_us = int((datetime.now(UTC) - timedelta(days=1) - EPOCH).total_seconds()) * MICROSECONDS
        self.heartbeats: dict[str, Heartbeat] = {}
        self.accepted: set[str] = set()
        self.refused: set[str] = set()
        self.answers: list[Answer] = []
        self.errors: list[str] = []
        self._unsettled: list[list[Heartbeat]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def start(self) -> "Prober":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def settle(self, timeout: float = 120) -> None:
        """Resend every request without a definitive answer until it gets a 202."""
        deadline = time.monotonic() + timeout
        session = requests.Session()
        for beats in self._unsettled:
            while self._post(session, beats)[0] != 202:
                if time.monotonic() > deadline:
                    raise AssertionError(f"probe events without a 202 after {timeout} s")
                time.sleep(RETRY_PAUSE_SECONDS)
        self._unsettled = []

    def _run(self) -> None:
        session = requests.Session()
        stream = 0
        while not self._stop.is_set():
            stream += 1
            clock = self._start_us + self._rng.randrange(0, 3600) * MICROSECONDS
            beats = []
            for step in range(self.per_request):
                event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
                beats.append(Heartbeat(event_id, f"probe{stream % 40}", f"probe{stream % 5}", f"s{stream}",
                                       10 * step, clock + 10 * step * MICROSECONDS))
            self.heartbeats.update((hb.event_id, hb) for hb in beats)
            status, code = self._post(session, beats)
            if code == NOTHING_ACCEPTED:
                self.refused.update(hb.event_id for hb in beats)
            elif status != 202:
                self._unsettled.append(beats)
            self._stop.wait(self.interval)

    def _post(self, session: requests.Session, beats: list[Heartbeat]) -> tuple[int | None, str | None]:
        event_ids = [hb.event_id for hb in beats]
        started = time.monotonic()
        code = retry_after = None
        try:
            response = session.post(self.url, data=json.dumps([hb.as_json() for hb in beats]), headers=self.headers,
                                    timeout=10)
            status, retry_after = response.status_code, response.headers.get("Retry-After")
            if status >= 400:
                error = response.json()["error"]
                code = error["code"]
                if error["details"].get("event_ids") != event_ids:
                    self.errors.append(f"503 without the request's event_ids: {response.text[:300]}")
        except requests.RequestException:
            session.close()
            status = None
        self.answers.append(Answer(started, time.monotonic(), status, retry_after, impatient=False, code=code,
                                   thread=self.thread))
        if status == 202:
            self.accepted.update(event_ids)
        elif status not in (503, None):
            self.errors.append(f"HTTP {status}: {response.text[:300]}")
        return status, code
