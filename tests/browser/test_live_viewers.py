"""<watchtime-live-viewers> in headless Chromium, embedded in a page of another origin against a real
API (the embedded mode, and gunicorn with a consumer): with a token from `watchtime livetoken` it
shows the movie's live count, no API key on the page; with a bad token it shows the error state."""

import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from selenium.webdriver.common.by import By

from tests import support
from tests.browser import chromium

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def premiere(api) -> int:
    """A movie two streams are playing now (heartbeats 10 s apart, the newest just received)."""
    slug = f"premiere-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    events = [{"user": f"viewer{i}", "slug": slug, "at": at, "ts": _iso(now - timedelta(seconds=20 - at))}
              for i in range(2) for at in (0, 10)]
    response = requests.post(api.base_url + "/", json=events, timeout=30,
                             headers={"Authorization": f"Bearer {api.ingest_key}"})
    assert response.status_code == 202, response.text
    movie = chromium.wait_for(lambda: next((m["id"] for m in api.get("/movies/", slug=slug).json()["results"]
                                if m["slug"] == slug), None))
    chromium.wait_for(lambda: api.get(f"/movies/{movie}/live/").json()["viewers"] == 2)
    return movie


def _token(api, movie: int) -> str:
    result = subprocess.run([support.WATCHTIME, "livetoken", "--movie", str(movie), "--ttl", "1h"], env=api.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _counter(driver):
    return driver.find_element(By.ID, "counter")


def test_the_counter_shows_the_live_count_with_a_token(browser, pages, api, premiere, tmp_path):
    browser.get(pages.live_url(api.base_url, premiere, _token(api, premiere), label=api.name))
    chromium.wait_for(lambda: _counter(browser).get_attribute("data-state") == "ok")
    browser.save_screenshot(str(tmp_path / f"live-{api.name}.png"))
    counter = _counter(browser)
    assert counter.text == "2 watching now"
    assert (counter.get_attribute("role"), counter.get_attribute("aria-live")) == ("status", "polite")
    assert browser.execute_script("return document.getElementById('counter').viewers") == 2
    assert browser.execute_script("return window.counterError") is None


def test_a_bad_token_shows_the_error_state(browser, pages, api, premiere, tmp_path):
    good = _token(api, premiere)
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    browser.get(pages.live_url(api.base_url, premiere, bad, label=f"{api.name}, bad token"))
    chromium.wait_for(lambda: _counter(browser).get_attribute("data-state") == "error")
    browser.save_screenshot(str(tmp_path / f"live-bad-token-{api.name}.png"))
    assert _counter(browser).text == "Live count unavailable: the token is invalid or expired."
    assert browser.execute_script("return document.getElementById('counter').viewers") is None
