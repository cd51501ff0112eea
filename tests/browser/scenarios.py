"""The player scenarios: what each one does to a real <video>, its network and its API, and the total
the API must then report, derived from the accounting rule (docs/architecture.md) (each adjacent pair a -> b earns
min(b.at - a.at, floor(b.ts - a.ts) + 1) when positive, both carrying ts)."""

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from tests.browser import chromium
from tests.stacks import Api, Relay

SLUG = "test-pattern"
SCRIPT_STEP_TIMEOUT = 120


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: int | None  # the user's total; None: nothing may be stored (the user stays unknown)
    why: str
    drive: Callable[["PlayerSession"], None]
    backends: tuple[str, ...] = ("embedded", "full")
    interval: int = 10
    key: str = "ingest"  # "ingest": the page's ingest-only key; "unknown": a key the API never issued
    # The page reaches the ingest URL through a relay the scenario can cut (the SDK file still loads).
    ingest_relay: bool = False
    page_host: str = "localhost"  # an allowed origin; 127.0.0.1 is not in WATCHTIME_CORS_ALLOWED_ORIGINS
    delivered: bool = True  # every heartbeat must reach the API
    sessions: int = 1  # playbacks, so session ids, the page makes


@dataclass
class Result:
    scenario: str
    backend: str
    expected: int | None
    measured: int | None = None
    checks: dict[str, bool] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    artefacts: Path | None = None


class PlayerSession:
    """One Chromium with the player page of one scenario, and the controls a scenario uses."""

    def __init__(self, driver, url: str, artefacts: Path, track: dict, broker_relay: Relay | None,
                 ingest_relay: Relay | None):
        self.driver = driver
        self.url = url
        self.artefacts = artefacts
        self.track_options = track
        self.broker_relay = broker_relay  # between the API and RabbitMQ
        self.ingest_relay = ingest_relay  # between the page and the API
        self.facts: dict = {}
        self._shots = 0
        self._network_enabled = False

    def open(self) -> None:
        self.driver.get(self.url)
        error = self.driver.execute_script("return window.sdkError")
        assert error is None, f"the SDK did not load: {error}"

    def start(self) -> dict:
        return self._async("return harness.start(arguments[0])", self.track_options)

    def steps(self, *steps: list) -> list:
        log = self._async("return harness.run(arguments[0])", [list(step) for step in steps])
        self.facts.setdefault("steps", []).extend(log)
        return log

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def screenshot(self, name: str) -> None:
        self._shots += 1
        self.driver.save_screenshot(str(self.artefacts / f"{self._shots:02d}-{name}.png"))

    def offline(self, offline: bool) -> None:
        """DevTools' offline emulation: every request of the page fails, as on a lost network."""
        self._network()
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    def reload(self) -> None:
        self.driver.refresh()
        error = self.driver.execute_script("return window.sdkError")
        assert error is None, f"the SDK did not load after the reload: {error}"

    def _network(self) -> None:
        if not self._network_enabled:
            self.driver.execute_cdp_cmd("Network.enable", {})
            self._network_enabled = True

    def _async(self, body: str, *args):
        script = body.replace("return ", "const done = arguments[arguments.length - 1]; ", 1)
        value = self.driver.execute_async_script(
            script + ".then(done, (e) => done({harnessError: String(e && e.stack || e)}))", *args)
        if isinstance(value, dict) and "harnessError" in value:
            raise AssertionError(f"page step failed: {value['harnessError']}")
        return value


# --- the scenarios --------------------------------------------------------------------------------


def play_30s(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 30], ["pause"])


def pause_20s(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 10], ["pause"], ["sleep", 20_000])
    s.screenshot("paused")
    s.steps(["play"], ["until", 20], ["pause"])


def seek_200s(s: PlayerSession) -> None:
    # The seek is issued in the timeupdate that crosses 10 s, so the SDK's pre-seek heartbeat is at 10.
    s.steps(["play"], ["until", 10], ["seek", 210], ["until", 220], ["pause"])


def offline_20s(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5])
    s.offline(True)
    time.sleep(10)
    s.screenshot("offline")
    time.sleep(10)
    s.offline(False)
    s.steps(["until", 35], ["pause"])


def reload_mid_play(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5])
    s.ingest_relay.cut()
    s.steps(["until", 25])
    s.screenshot("before-reload")
    s.reload()
    s.facts["queued_after_reload"] = s.js("return harness.queued()")
    s.start()  # the reloaded page's tracker adopts the queue the first page released at pagehide
    s.steps(["play"], ["until", 5], ["pause"])
    s.ingest_relay.restore()


def rate_2x(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 10], ["rate", 2], ["sleep", 10_000], ["pause"])


def broker_503(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5])
    s.broker_relay.cut()
    time.sleep(10)
    s.screenshot("broker-cut")
    time.sleep(10)
    s.broker_relay.restore()
    s.steps(["until", 35], ["pause"])


def ended_then_replay(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5], ["seek", 295], ["ended"], ["play"], ["until", 5], ["pause"])


def leave_page(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 12])
    s.driver.get("about:blank")  # pagehide: its heartbeat can only arrive by the keepalive fetch
    time.sleep(2)
    s.open()  # back on the page (no tracker): its records and localStorage are readable again


def scrub_while_paused(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5], ["pause"], ["seek", 20], ["sleep", 100], ["seek", 40], ["sleep", 100],
            ["seek", 60], ["sleep", 100], ["seek", 80], ["sleep", 1500], ["play"], ["until", 85], ["pause"])


def clock_ahead(s: PlayerSession) -> None:
    # Offline, so that good and bad heartbeats go out together in one array once back online.
    s.steps(["play"], ["until", 2])
    s.offline(True)
    # (The sleeps let the pause heartbeats, which come in the next task, carry the clock of before.)
    s.steps(["pause"], ["sleep", 200], ["clock", 600_000], ["play"], ["until", 4], ["pause"], ["sleep", 200],
            ["clock", 0], ["play"], ["until", 6], ["pause"])
    s.offline(False)


def short_play(s: PlayerSession) -> None:
    s.steps(["play"], ["until", 5], ["pause"])


SCENARIOS = [
    Scenario("play-30s", 30, "one forward play 0 -> 30: at 1x every pair earns its whole d (d <= floor(dts) + 1), "
             "so the pairs sum to floor(30.x) - 0 = 30", play_30s),
    Scenario("pause-20s-then-play-10s", 20, "10 (0 -> 10) + 0 (the pause pair 10 -> 10, 20 s apart: d = 0) "
             "+ 10 (10 -> 20) = 20; counting the pause would give 40", pause_20s),
    Scenario("seek-forward-200s", 21, "10 (0 -> 10) + 1 (the seek pair 10 -> 210: d = 200, but its two heartbeats "
             "are < 1 s apart, so floor(dts) + 1 = 1) + 10 (210 -> 220) = 21; crediting the seek would give 220",
             seek_200s),
    Scenario("offline-20s", 35, "heartbeats queued while offline keep their ts and event_id, so the pairs are those "
             "of a plain 0 -> 35 play: 35", offline_20s),
    Scenario("reload-mid-play", 30, "25 (the first page's session 0 -> 25, its last heartbeats delivered from "
             "localStorage by the reloaded page) + 5 (the reloaded page's own session 0 -> 5) = 30", reload_mid_play,
             ingest_relay=True, sessions=2),
    Scenario("rate-2x-10s", 21, "10 (0 -> 10 at 1x) + 11 (the 2x pair 10 -> 30: d = 20, dts = 10.x s, "
             "min(20, floor(10.x) + 1) = 11) = 21; interval 30 s keeps the 10 s at 2x one pair", rate_2x,
             interval=30),
    Scenario("ended-then-replay", 16, "first playback: 5 (0 -> 5) + 1 (the seek 5 -> 295) + 5 (295 -> 300, ended); "
             "the replay is a new session: 5 (0 -> 5); 11 + 5 = 16", ended_then_replay, backends=("embedded",),
             sessions=2),
    Scenario("leave-page-at-12s", 12, "0 -> 12 = 12, of which the last 2 s only by the heartbeat sent at pagehide "
             "(the page is gone: only a keepalive fetch can deliver it); without it 10", leave_page),
    Scenario("scrub-while-paused", 12, "5 (0 -> 5) + 1 (the scrub's first jump 5 -> 20) + 0 (the trailing heartbeat "
             "repeats 20) + 1 (its jump 20 -> 80) + 5 (80 -> 85) = 12; a heartbeat per seek would give 14",
             scrub_while_paused, backends=("embedded",)),
    Scenario("clock-ahead-400", 6, "the two heartbeats sent while the page's clock ran 10 min ahead are refused (400, "
             "ts in the future) and dropped: play@2 and pause@4; the others make 0 -> 2 -> 4 -> 6 = 6", clock_ahead,
             backends=("embedded",), delivered=False),
    Scenario("broker-503-20s", 35, "heartbeats answered 503 are retried with the same event_id and ts, so the pairs "
             "are those of a plain 0 -> 35 play: 35", broker_503, backends=("full-relayed",)),
    Scenario("unknown-key-401", None, "401 is not retried: dropped with a warning, nothing stored", short_play,
             backends=("embedded",), key="unknown", delivered=False),
    Scenario("origin-not-allowed", None, "the browser refuses the answer to an origin CORS does not allow: "
             "nothing stored, the heartbeats stay queued", short_play, backends=("embedded",),
             page_host="127.0.0.1", delivered=False),
]

CASES = [(scenario, backend) for scenario in SCENARIOS for backend in scenario.backends]


def case_id(case) -> str:
    scenario, backend = case
    return f"{backend}-{scenario.name}"


# --- running one and checking it -----------------------------------------------------------------


class Run:
    """One (scenario, backend): `prepare()` opens the page and attaches the SDK (browser start-ups are
    heavy, so the suite does these a few at a time), then `drive()` plays the scenario and checks it."""

    def __init__(self, scenario: Scenario, backend: str, api: Api, pages, artefacts: Path,
                 broker_relay: Relay | None):
        self.scenario = scenario
        self.api = api
        self.user = f"{backend}-{scenario.name}"
        self.result = Result(scenario.name, backend, scenario.expected, artefacts=artefacts)
        self.broker_relay = broker_relay
        self.ingest_relay = Relay(("127.0.0.1", urlsplit(api.base_url).port)) if scenario.ingest_relay else None
        endpoint = f"http://127.0.0.1:{self.ingest_relay.port}" if self.ingest_relay else api.base_url
        key = api.ingest_key if scenario.key == "ingest" else "wt_unknown1_" + "x" * 24
        self.track = {"endpoint": endpoint, "key": key, "user": self.user, "slug": SLUG, "interval": scenario.interval}
        self.url = pages.url(api.base_url, endpoint, host=scenario.page_host, label=f"{backend}-{scenario.name}")
        self.session: PlayerSession | None = None

    def prepare(self, launch) -> None:
        started = time.monotonic()
        try:
            if self.ingest_relay:
                self.ingest_relay.restore()
            self.session = PlayerSession(launch(), self.url, self.result.artefacts, self.track, self.broker_relay,
                                         self.ingest_relay)
            self.session.open()
            self.session.facts["sdk_exports"] = self.session.start()["exports"]
            self.session.screenshot("start")
        except Exception:
            self._failed()
        self.result.seconds += time.monotonic() - started

    def drive(self) -> Result:
        started = time.monotonic()
        session, scenario = self.session, self.scenario
        try:
            if self.result.error is None:
                scenario.drive(session)
                if session.js("return Boolean(window.tracker)"):  # not when the scenario left the page
                    drain_ms = 60_000 if scenario.expected is not None else 3_000
                    left = session.steps(["drain", drain_ms])[0]["value"]
                    session.screenshot("end")
                    session.facts["held_before_stop"] = session.js("return harness.leaks()")
                    session.steps(["stop"])
                    time.sleep(1)  # let the last keepalive send settle
                else:
                    session.facts["left_in_storage"] = session.js("return harness.queued()")
                    left = None
                session.facts["left_queued"] = left
                session.facts["leaks"] = session.js("return harness.leaks()")
                records = session.js("return harness.records()")
                _save(self.result.artefacts / "page-records.json", records)
                _check(self.result, scenario, self.api, self.user, records, session.facts)
        except Exception:
            self._failed()
        finally:
            if self.ingest_relay:
                self.ingest_relay.cut()
            if session is not None:
                try:
                    _save(self.result.artefacts / "browser-console.json", session.driver.get_log("browser"))
                except Exception:
                    pass
                _save(self.result.artefacts / "facts.json", session.facts)
                self.result.facts = session.facts
                chromium.quit(session.driver)  # its CPU goes to the scenarios still running
        self.result.seconds = round(self.result.seconds + time.monotonic() - started, 1)
        return self.result

    def _failed(self) -> None:
        self.result.error = traceback.format_exc()
        (self.result.artefacts / "error.txt").write_text(self.result.error)
        if self.session is not None:
            try:
                self.session.screenshot("failure")
            except Exception:
                pass


def _check(result: Result, scenario: Scenario, api: Api, user: str, records: dict, facts: dict) -> None:
    beats, requests = records["beats"], records["requests"]
    beat_ids = [beat["event_id"] for beat in beats]
    checks = result.checks
    checks["every heartbeat has its own event_id, a ts and a session"] = (
        len(set(beat_ids)) == len(beats) and all(beat["ts"] and beat["session"] for beat in beats))
    checks["requests carry the key and no credentials"] = all(
        r["authorization"] and r["credentials"] == "omit" for r in requests)
    checks["requests carry only heartbeats the page made (a retry reuses its event_ids)"] = (
        {i for r in requests for i in r["ids"]} <= set(beat_ids))
    checks["no listener or timer of the SDK left after stop()"] = facts["leaks"] == {"listeners": [], "timers": []}
    if "held_before_stop" in facts:
        # The harness sees what the SDK's modules (any file under /sdk/) add: 8 media, 1 document, 3 window listeners.
        checks["the harness saw the SDK's 12 listeners before stop()"] = len(facts["held_before_stop"]["listeners"]) == 12
    facts["sessions"] = len({beat["session"] for beat in beats})
    checks[f"{scenario.sessions} session(s), one per playback"] = facts["sessions"] == scenario.sessions

    if scenario.delivered:
        stored = _wait_for_events(api, user, len(beat_ids))
        _save(result.artefacts / "api-events.json", stored)
        stored_ids = [event["event_id"] for event in stored]
        checks["every heartbeat stored once, nothing else"] = sorted(stored_ids) == sorted(beat_ids)
        if "left_in_storage" in facts:
            # The page left before the keepalive's answer: what it sent stays in localStorage, to be sent
            # again (harmlessly, by event_id) by the next page of this origin.
            checks["what is left in localStorage was stored already"] = set(facts["left_in_storage"]) <= set(stored_ids)
        else:
            checks["the page's queue drained"] = facts["left_queued"] == 0
    else:
        stored_ids = [event["event_id"] for event in api.user_events(user)]
        if scenario.expected is None:
            checks["nothing stored"] = stored_ids == []
    facts["stored_ids"] = stored_ids
    answer = api.get(f"/users/{user}/total-watch-time/")
    _save(result.artefacts / "api-total.json", {"status": answer.status_code, "body": answer.json()})
    result.measured = answer.json()["total_watch_time"] if answer.status_code == 200 else None
    facts["heartbeats"] = len(beats)
    facts["requests"] = len(requests)
    facts["answers"] = _count(r.get("status") for r in requests)
    SPECIFIC.get(scenario.name, lambda *a: None)(checks, records, facts)


def _check_offline(checks, records, facts) -> None:
    requests = records["requests"]
    failed = [r for r in requests if r.get("status") == 0]
    accepted = {i for r in requests if r.get("status") == 202 for i in r["ids"]}
    checks["sends failed while offline"] = len(failed) >= 1
    checks["every heartbeat that failed offline was accepted later with the same event_id"] = all(
        set(r["ids"]) <= accepted for r in failed)
    first_back = next((r for r in requests if r.get("status") == 202 and r["started"] > failed[-1]["started"]), None)
    facts["first_request_after_restore_events"] = len(first_back["ids"]) if first_back else 0
    checks["the queued heartbeats went out coalesced in one array"] = bool(first_back) and len(first_back["ids"]) >= 2


def _check_reload(checks, records, facts) -> None:
    queued = facts["queued_after_reload"]
    pages = sorted({beat["page"] for beat in records["beats"]})  # each page's performance.timeOrigin
    facts["queued_after_reload_count"] = len(queued)
    first_page_ids = {beat["event_id"] for beat in records["beats"] if beat["page"] == pages[0]}
    checks["heartbeats of the first page were in localStorage after the reload"] = (
        len(queued) >= 2 and set(queued) <= first_page_ids)
    checks["heartbeats from two pages"] = len(pages) == 2


def _check_503(checks, records, facts) -> None:
    requests = records["requests"]
    refused = [r for r in requests if r.get("status") == 503]
    accepted = {i for r in requests if r.get("status") == 202 for i in r["ids"]}
    checks["the API answered 503 with Retry-After while the broker was cut"] = bool(refused) and all(
        r["retryAfter"] == "5" for r in refused)
    checks["every heartbeat answered 503 was accepted later with the same event_id"] = all(
        set(r["ids"]) <= accepted for r in refused)
    gaps = []
    for r in refused:
        later = [n["started"] for n in requests if n["started"] >= r["answered"]]
        if later:
            gaps.append((min(later) - r["answered"]) / 1000)
    facts["seconds_from_503_to_next_attempt"] = [round(g, 2) for g in gaps]
    checks["no attempt sooner than Retry-After (5 s) after a 503"] = all(g >= 4.95 for g in gaps)


def _check_refused(checks, records, facts) -> None:
    requests, warnings = records["requests"], records["warnings"]
    ids = [i for r in requests for i in r["ids"]]
    checks["401 answered, each heartbeat sent once (not retried)"] = (
        all(r.get("status") == 401 for r in requests) and len(ids) == len(set(ids)) == facts["heartbeats"])
    checks["a console warning names the refusal"] = any("refused" in w and "authentication_failed" in w for w in warnings)


def _check_origin(checks, records, facts) -> None:
    requests = records["requests"]
    checks["the browser failed every send (no CORS grant for this origin)"] = bool(requests) and all(
        r.get("status") == 0 for r in requests)
    checks["the heartbeats are still queued"] = facts["left_queued"] == facts["heartbeats"]


def _check_clock(checks, records, facts) -> None:
    requests, warnings = records["requests"], records["warnings"]
    refusals = [r for r in requests if r.get("status") == 400]
    checks["one 400, naming two items of one array"] = len(refusals) == 1 and len(
        json.loads(refusals[0]["body"])["error"]["details"]["items"]) == 2
    if not checks["one 400, naming two items of one array"]:
        return
    refusal = refusals[0]
    bad = {refusal["ids"][int(index)] for index in json.loads(refusal["body"])["error"]["details"]["items"]}
    ahead = {b["event_id"] for b in records["beats"]
             if datetime.fromisoformat(b["ts"]) - datetime.fromisoformat(b["realTs"]) > timedelta(minutes=5)}
    checks["the refused items are the heartbeats stamped 10 min ahead"] = bad == ahead
    # The SDK sends the rest at once: in the same millisecond as the refusal's answer, at times.
    later = [i for r in requests if r is not refusal and r["started"] >= refusal["answered"] for i in r["ids"]]
    checks["the refused items were never sent again, the rest at once"] = not bad & set(later) and set(later) == (
        set(refusal["ids"]) - bad)
    checks["the others stored"] = sorted(facts["stored_ids"]) == sorted(
        {b["event_id"] for b in records["beats"]} - bad)
    checks["a console warning names the refusal"] = any("refused 2 heartbeat(s)" in w for w in warnings)


SPECIFIC = {
    "clock-ahead-400": _check_clock,
    "offline-20s": _check_offline,
    "reload-mid-play": _check_reload,
    "broker-503-20s": _check_503,
    "unknown-key-401": _check_refused,
    "origin-not-allowed": _check_origin,
}


def _wait_for_events(api: Api, user: str, count: int, timeout: float = 60) -> list[dict]:
    """The stored events of `user` once there are `count` of them (the consumer may lag), or the
    last list seen."""
    deadline = time.monotonic() + timeout
    while True:
        events = api.user_events(user)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def _count(values) -> dict:
    counts: dict = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def _save(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
