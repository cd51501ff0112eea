"""What the dashboard's browser tests share: a site (an API with seeded viewing and its dashboard users), the
page's figures read back from the DOM, axe-core injected from tests/dashboard/node_modules, the transfer size."""

import base64
import json
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
from selenium.webdriver.common.by import By

from tests.browser import chromium
from tests.stacks import Api

HERE = Path(__file__).resolve().parent
PASSWORD = "a-long-dashboard-passphrase-42"


@dataclass
class Site:
    api: Api
    auth: bool
    movies: dict  # slug -> id
    users: tuple  # the viewers seeded

    def api_get(self, path: str, params: dict | None = None) -> dict:
        response = requests.get(self.api.base_url + path, params=params, timeout=30,
                                headers={"Authorization": f"Bearer {self.api.read_key}"})
        response.raise_for_status()
        return response.json()


def axe_source() -> str:
    package = HERE / "node_modules" / "axe-core"
    if not (package / "axe.min.js").is_file():
        result = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                                timeout=300)  # .npmrc: no lockfile is written
        assert result.returncode == 0, result.stdout + result.stderr
    return (package / "axe.min.js").read_text()


def seed(api: Api, tag: str) -> Site:
    """Three viewers of two movies over the last days, through the API (and, on the full stack, the consumer)."""
    headers = {"Authorization": f"Bearer {api.read_key}"}
    movies = {}
    for slug, duration in ((f"{tag}-heat", 120), (f"{tag}-ran", 60)):
        created = requests.post(f"{api.base_url}/movies/", json={"title": slug.title(), "slug": slug, "duration": duration},
                                headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        movies[slug] = created.json()["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    plan = [(f"{tag}-alice", f"{tag}-heat", now - timedelta(days=2), 110), (f"{tag}-bob", f"{tag}-heat", now - timedelta(days=1), 20),
            (f"{tag}-carol", f"{tag}-ran", now - timedelta(hours=3), 60), (f"{tag}-bob", f"{tag}-ran", now - timedelta(hours=2), 30)]
    events = [{"user": user, "slug": slug, "at": at, "ts": (start + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")}
              for user, slug, start, last in plan for at in range(0, last + 1, 10)]
    posted = requests.post(f"{api.base_url}/", json=events, headers={"Authorization": f"Bearer {api.ingest_key}"}, timeout=30)
    assert posted.status_code == 202, posted.text
    expected = {f"{tag}-alice": 110, f"{tag}-bob": 50, f"{tag}-carol": 60}
    deadline = time.monotonic() + 60
    while {user: api.user_total(user) for user in expected} != expected:
        assert time.monotonic() < deadline, "the seeded viewing was not applied within 60 s"
        time.sleep(0.3)
    return Site(api, auth=True, movies=movies, users=tuple(expected))


def create_users(api: Api, tag: str) -> None:
    for name, flags in ((f"{tag}-reader", ()), (f"{tag}-admin", ("--admin",))):
        made = api.watchtime("createuser", name, *flags, stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stdout + made.stderr


def sign_in(driver, site: Site, username: str) -> None:
    driver.get(f"{site.api.base_url}/dashboard/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    chromium.wait_for(lambda: "/dashboard/login/" not in driver.current_url)


def values(driver, selector: str) -> list[list[str]]:
    """Each row's data-value cells (the exact figures behind the formatted text)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr')].map((row) =>"
        " [...row.querySelectorAll('[data-value]')].map((cell) => cell.dataset.value))", selector)


def csv_query(driver, section_id: str, index: int = 0) -> tuple[str, dict]:
    """The API URL name and query of a section's CSV download (the page's own query of the API)."""
    link = driver.find_elements(By.CSS_SELECTOR, f"section[aria-labelledby='{section_id}'] a.csv")[index]
    url = urlsplit(link.get_attribute("href"))
    return url.path.rstrip("/").rsplit("/", 1)[-1], dict(parse_qsl(url.query))


def loaded(driver, site: Site) -> None:
    """The charts are drawn (or the page has none) and nothing went wrong in the page."""
    chromium.wait_for(lambda: driver.execute_script("return document.readyState === 'complete'"))
    chromium.wait_for(lambda: driver.execute_script(
        "return [...document.querySelectorAll('.chart[data-chart]')].every((c) => c.querySelector('canvas'))"))


def console_errors(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def foreign_requests(driver, origin: str) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    return [name for name in names if not name.startswith(origin + "/")]


def transfer_bytes(driver) -> int:
    """What the page and everything it loaded weigh on the wire, compressed (cache or not)."""
    return driver.execute_script(
        "return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]"
        ".reduce((sum, e) => sum + e.encodedBodySize, 0)")


def serious_violations(driver, axe: str) -> list:
    driver.execute_script(axe)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations.map((v) =>"
        " ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))}))))"
        ".catch((e) => done([{id: 'axe failed', impact: 'critical', help: String(e)}]));")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def too_wide(driver) -> list[str]:
    """The elements wider than the window, for a failure's message."""
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right >"
        " window.innerWidth + 1 && !e.closest('.table-wrap')).slice(0, 10).map((e) => e.tagName + '.' + e.className"
        " + ' ' + Math.round(e.getBoundingClientRect().right))")


def full_page_screenshot(driver, path: Path, width: int = 1100) -> None:
    """The whole page at `width` (Chromium's DevTools capture beyond the viewport)."""
    driver.set_window_size(width, 900)
    time.sleep(0.4)  # the charts redraw at the new width
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def dump(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
