"""The dashboard in headless Chromium (loopback only), on the full stack (gunicorn API + consumer, keys and
sign-in on) and on the embedded default of `make run` (open): each page drawn from real viewing, its figures
equal to the API's answers, a definition control restating them, no console error, nothing from another
host, no serious accessibility violation (axe-core), a phone-sized page, sign-in and the admin's actions;
a full-page screenshot of each page with the test's artefacts (`make screenshots` also copies the full
stack's to docs/images/)."""

import os
import re
import shutil
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser import chromium
from tests.dashboard import browser as b
from tests.stacks import start_embedded, stop_embedded

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
MAX_TRANSFER = 300 * 1024
API = {"overall-series": "/stats/watch-time/", "top-movies": "/stats/top-movies/",
       "movie-series": "/movies/{movie}/watch-time/", "movie-engagement": "/movies/{movie}/engagement/",
       "movie-retention": "/movies/{movie}/retention/", "user-series": "/users/{user}/watch-time/",
       "user-progress": "/users/{user}/progress/", "user-views": "/users/{user}/views/"}


@pytest.fixture(scope="module")
def axe():
    return b.axe_source()


@pytest.fixture(scope="module")
def open_api(tmp_path_factory):
    """`make run`'s mode: the embedded default with the API open (WATCHTIME_AUTH=false), so the dashboard too."""
    api = start_embedded(tmp_path_factory.mktemp("dashboard-open"), WATCHTIME_AUTH="false")
    yield api
    stop_embedded(api)


@pytest.fixture(scope="module", params=["full", "embedded-open"])
def site(request, full_stack, tmp_path_factory):
    if request.param == "full":
        seeded = b.seed(full_stack.api, "dash")
        b.create_users(full_stack.api, "dash")
    else:
        seeded = b.seed(request.getfixturevalue("open_api"), "open")
        seeded.auth = False
    seeded.artefacts = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    return seeded


@pytest.fixture(scope="module")
def driver(site, tmp_path_factory):
    driver = chromium.launch(tmp_path_factory.mktemp("dashboard-profiles"))
    if site.auth:
        b.sign_in(driver, site, "dash-admin")
    yield driver
    chromium.quit(driver)


def _api_answer(site, name: str, query: dict) -> dict:
    arguments = {"movie": query.pop("movie", None), "user": query.pop("user", None)}
    query.pop("format", None)
    return site.api_get(API[name].format(**arguments), query)


def _visit(driver, site, path: str, page: str, axe) -> dict:
    """Load the page; the checks every page passes; its screenshot; what it weighed."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(site.api.base_url + path)
    b.loaded(driver, site)
    figures = {"transfer_bytes": b.transfer_bytes(driver)}
    assert b.console_errors(driver) == []
    assert b.foreign_requests(driver, site.api.base_url) == []
    assert b.serious_violations(driver, axe) == []
    assert figures["transfer_bytes"] <= MAX_TRANSFER
    shot = site.artefacts / f"dashboard-{page}.png"
    b.full_page_screenshot(driver, shot)
    if site.api.name == "full" and os.environ.get("WATCHTIME_DOCS_SCREENSHOTS"):  # `make screenshots`, not every run
        DOCS_IMAGES.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS_IMAGES / shot.name)
    driver.set_window_size(390, 844)  # a phone: nothing wider than the screen but the tables' own scrolling boxes
    assert chromium.wait_for(lambda: driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
                  timeout=5), b.too_wide(driver)
    driver.set_window_size(800, 600)
    b.dump(site.artefacts / f"dashboard-{page}.json", figures)
    return figures


def test_overview_shows_the_apis_answers(driver, site, axe):
    _visit(driver, site, "/dashboard/", "overview", axe)
    name, query = b.csv_query(driver, "top-title")
    answer = _api_answer(site, name, query)
    assert b.values(driver, "#top-movies") == [[str(m[k]) for k in ("watch_time", "viewers", "views", "completions")]
                                               for m in answer["results"]]
    ours = {m["slug"]: m for m in answer["results"] if m["id"] in site.movies.values()}
    assert ours[f"{site.users[0].split('-')[0]}-heat"]["watch_time"] == 130
    name, query = b.csv_query(driver, "series-title")
    series = _api_answer(site, name, query)
    assert b.values(driver, "#series") == [[str(r["watch_time"]), str(r["viewers"]), str(r["movies"])]
                                           for r in series["results"]]
    # Ranked by views instead: the same API answer, by views.
    driver.find_element(By.LINK_TEXT, "Views").click()
    b.loaded(driver, site)
    name, query = b.csv_query(driver, "top-title")
    assert query["by"] == "views"
    assert b.values(driver, "#top-movies") == [[str(m[k]) for k in ("watch_time", "viewers", "views", "completions")]
                                               for m in _api_answer(site, name, query)["results"]]


def test_movie_page_and_a_definition_restating_it(driver, site, axe):
    tag = site.users[0].split("-")[0]
    movie = site.movies[f"{tag}-heat"]
    _visit(driver, site, f"/dashboard/movies/{movie}/", "movie", axe)
    before = _engagement(driver)
    name, query = b.csv_query(driver, "engagement-title")
    assert before == {k: _text(v) for k, v in _api_answer(site, name, query).items() if k in before}
    assert (before["views"], before["completions"]) == ("2", "1")
    name, query = b.csv_query(driver, "retention-title")
    bins = _api_answer(site, name, query)["bins"]
    assert b.values(driver, "#retention") == [[str(x["viewers"]), _text(x["retention"])] for x in bins]
    # A view counts from 30 s: bob's 20 s of it no longer is one; the history is restated at once.
    field = driver.find_element(By.ID, "c-min-view")
    field.clear()
    field.send_keys("30")
    driver.find_element(By.CSS_SELECTOR, "form.controls button[type=submit]").click()
    chromium.wait_for(lambda: "min_view_seconds=30" in driver.current_url)
    b.loaded(driver, site)
    after = _engagement(driver)
    name, query = b.csv_query(driver, "engagement-title")
    assert query["min_view_seconds"] == "30"
    assert after == {k: _text(v) for k, v in _api_answer(site, name, query).items() if k in after}
    assert (after["views"], after["completions"]) == ("1", "1")
    assert b.console_errors(driver) == []


def test_viewer_page_shows_progress_views_and_series(driver, site, axe):
    user = site.users[1]  # bob: two movies
    _visit(driver, site, f"/dashboard/viewers/{user}/", "viewer", axe)
    name, query = b.csv_query(driver, "progress-title")
    progress = _api_answer(site, name, query)["results"]
    assert b.values(driver, "#progress") == [[str(p["position"]), str(p["total_watch_time"])] for p in progress]
    name, query = b.csv_query(driver, "views-title")
    views = _api_answer(site, name, query)["results"]
    assert b.values(driver, "#views") == [[str(v["watch_time"])] for v in views]
    assert len(views) == 2
    assert driver.find_elements(By.ID, "export")  # an admin (or the open mode) sees the export and erasure


def test_csv_downloads_are_the_apis_answers(driver, site):
    session = requests.Session()
    for cookie in driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    movie = site.movies[f"{site.users[0].split('-')[0]}-heat"]
    got = session.get(f"{site.api.base_url}/dashboard/data/movie-retention/",
                      params={"movie": movie, "format": "csv"}, timeout=30)
    direct = requests.get(f"{site.api.base_url}/movies/{movie}/retention/", params={"format": "csv"}, timeout=30,
                          headers={"Authorization": f"Bearer {site.api.read_key}"})
    assert got.status_code == direct.status_code == 200
    assert got.headers["Content-Type"].startswith("text/csv")
    assert got.text.splitlines()[0] == "start,viewers,retention"
    assert got.text.splitlines()[1:] == direct.text.splitlines()[1:]


def test_erasure_wants_the_username_typed(driver, site):
    user = site.users[2]  # carol
    driver.get(f"{site.api.base_url}/dashboard/viewers/{user}/")
    driver.find_element(By.ID, "erase-confirm").send_keys("not-" + user)
    driver.find_element(By.CSS_SELECTOR, "form.erase button").click()
    assert "Nothing was erased" in chromium.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".message.error"))[0].text
    assert site.api.user_total(user) == 60
    driver.find_element(By.ID, "erase-confirm").send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "form.erase button").click()
    assert f"Erased {user}" in chromium.wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".message.success"))[0].text
    assert site.api.user_total(user) is None


def test_sign_in_is_required_and_readers_see_no_admin_action(site, tmp_path_factory):
    if not site.auth:
        response = requests.get(f"{site.api.base_url}/dashboard/", timeout=30)
        assert response.status_code == 200 and "Overview" in response.text  # open, as the API is
        return
    # Not signed in: the sign-in page, whatever key is offered (a key never signs anyone in to the dashboard).
    for attempt in ({}, {"headers": {"Authorization": f"Bearer {site.api.read_key}"}}, {"params": {"key": site.api.read_key}}):
        response = requests.get(f"{site.api.base_url}/dashboard/", allow_redirects=False, timeout=30, **attempt)
        assert response.status_code == 302 and response.headers["Location"].startswith("/dashboard/login/")
    driver = chromium.launch(tmp_path_factory.mktemp("dashboard-reader"))
    try:
        driver.get(f"{site.api.base_url}/dashboard/")
        assert "/dashboard/login/" in driver.current_url
        b.sign_in(driver, site, "dash-reader")
        driver.get(f"{site.api.base_url}/dashboard/viewers/{site.users[0]}/")
        assert driver.find_elements(By.ID, "progress") and not driver.find_elements(By.ID, "export")
        cookie = {c["name"]: c for c in driver.get_cookies()}["sessionid"]
        assert cookie["httpOnly"] and cookie["secure"]  # production settings: DJANGO_DEBUG is false here
        driver.get(f"{site.api.base_url}/dashboard/viewers/{site.users[0]}/export/")
        assert "403" in driver.page_source or "forbidden" in driver.page_source.lower()
    finally:
        chromium.quit(driver)


def _engagement(driver) -> dict:
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#engagement [data-figure]')]"
        ".map((e) => [e.dataset.figure, e.dataset.value]))")


def _text(value) -> str:
    """A figure as the template writes it into data-value (None as empty)."""
    return "" if value is None else str(value)


def test_static_files_have_hashed_names_and_long_cache_headers(driver, site):
    """Collected as the image does (the full stack): WhiteNoise serves hashed names, cached for a year, compressed."""
    driver.get(f"{site.api.base_url}/dashboard/")
    scripts = [e.get_attribute("src") for e in driver.find_elements(By.CSS_SELECTOR, "script[src]")]
    assert {s.rsplit("/", 1)[-1].split(".")[0] for s in scripts} == {"uPlot", "dashboard"}
    for src in scripts:
        response = requests.get(src, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert response.status_code == 200
        if site.api.name == "full":
            assert re.search(r"\.[0-9a-f]{12}\.js$", src), src
            assert "max-age=315360000" in response.headers["Cache-Control"]
            assert response.headers["Content-Encoding"] == "gzip"


def test_the_live_panel_refreshes_every_10_seconds(driver, site):
    driver.get_log("browser")
    driver.get(f"{site.api.base_url}/dashboard/")
    b.loaded(driver, site)
    panel = driver.find_element(By.CSS_SELECTOR, "[data-live-url]")
    chromium.wait_for(lambda: any("/dashboard/data/overall-live/" in name for name in driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)")), timeout=15)
    live = site.api_get("/stats/live/")
    assert panel.find_element(By.CSS_SELECTOR, "[data-status]").text == ""  # refreshed, no error
    assert panel.find_element(By.CSS_SELECTOR, "[data-field=viewers]").text == f"{live['viewers']:,}"
    assert b.console_errors(driver) == []
