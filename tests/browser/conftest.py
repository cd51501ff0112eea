"""Fixtures of the browser suite: a test-pattern clip made by ffmpeg, the player pages' server, and
the scenarios, run once per session and all at once (one Chromium each), each reported by its test."""

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser import chromium, scenarios
from tests.browser.scenarios import Result

_results: list[Result] = []


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """A 5-minute WebM test pattern (a running clock), keyframes every 2 s so seeks are quick."""
    path = tmp_path_factory.mktemp("clip") / "clip.webm"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=5:duration=300",
         "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "16", "-b:v", "30k", "-g", "10", "-an", str(path)],
        check=True, timeout=120,
    )
    return path


@pytest.fixture(scope="session")
def pages(page_port, clip):
    with chromium.PageServer(page_port, clip) as server:
        yield server


@pytest.fixture(scope="session")
def browsers(tmp_path_factory):
    """launch(): a new Chromium; all are quit at the end of the session."""
    profiles = tmp_path_factory.mktemp("profiles")
    started, lock = [], threading.Lock()

    def launch():
        driver = chromium.launch(profiles)
        with lock:
            started.append(driver)
        return driver

    yield launch
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(chromium.quit, started))


@pytest.fixture(scope="module")
def browser(browsers):
    """One Chromium for the module's tests."""
    return browsers()


@pytest.fixture(params=["embedded", "full"])
def api(request, embedded_api, full_stack):
    """Each test once against the embedded API and once against the full stack's."""
    return embedded_api if request.param == "embedded" else full_stack.api


@pytest.fixture(scope="session")
def scenario_results(request, tmp_path_factory, pages, browsers, embedded_api, full_stack):
    """Every selected (scenario, backend) at once, each in a Chromium of its own. The browsers start
    and load their pages two at a time first, so no start-up competes with a scenario's timing."""
    apis = {"embedded": embedded_api, "full": full_stack.api, "full-relayed": full_stack.relayed_api}
    root = tmp_path_factory.mktemp("player-scenarios")
    selected = [item.callspec.params["case"] for item in request.session.items
                if hasattr(item, "callspec") and "case" in item.callspec.params]
    runs = []
    for scenario, backend in selected:
        artefacts = root / f"{backend}-{scenario.name}"
        artefacts.mkdir()
        broker_relay = full_stack.relay if backend == "full-relayed" else None
        runs.append(scenarios.Run(scenario, backend, apis[backend], pages, artefacts, broker_relay))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda run: run.prepare(browsers), runs))
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        results = list(pool.map(lambda run: run.drive(), runs))
    _results.extend(results)
    (root / "results.md").write_text(_table(results))
    return {(r.scenario, r.backend): r for r in results}


def _table(results) -> str:
    lines = ["| backend | scenario | expected | measured | checks | s | artefacts |", "|---|---|---|---|---|---|---|"]
    for r in results:
        passed = sum(r.checks.values())
        lines.append(f"| {r.backend} | {r.scenario} | {_total(r.expected)} | {_total(r.measured)} | "
                     f"{passed}/{len(r.checks)}{' ERROR' if r.error else ''} | {r.seconds} | {r.artefacts} |")
    return "\n".join(lines) + "\n"


def _total(value) -> str:
    return "unknown user (404)" if value is None else f"{value} s"


def pytest_terminal_summary(terminalreporter):
    if _results:
        terminalreporter.write_sep("-", "player scenarios: expected vs measured total")
        terminalreporter.write(_table(_results))

