"""The API's own pages in headless Chromium with no network but loopback: /docs/ (Swagger UI from
drf-spectacular-sidecar, served by the API) lists every operation, /admin/login/ shows its styled
form; and a player page refuses an SDK module whose hash is not the one its import map pins."""

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser import chromium
from watchtime.sdk import LIVE_VIEWERS, sdk

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _foreign_resources(driver, origin: str) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    return [name for name in names if not name.startswith(origin + "/")]


def test_docs_render_every_operation_offline(browser, api, tmp_path):
    schema = requests.get(f"{api.base_url}/schema/", params={"format": "json"}, timeout=10).json()
    operations = sorted(op["operationId"] for item in schema["paths"].values() for op in item.values())
    browser.get(f"{api.base_url}/docs/")
    rendered = chromium.wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock"))
    browser.save_screenshot(str(tmp_path / f"docs-{api.name}.png"))
    ids = sorted(element.get_attribute("id").rsplit("-", 1)[-1] for element in rendered)
    assert ids == operations
    assert "watchtime API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert _foreign_resources(browser, api.base_url) == []


def test_admin_login_renders_its_form(browser, api, tmp_path):
    browser.get(f"{api.base_url}/admin/login/")
    form = browser.find_element(By.ID, "login-form")
    assert form.find_element(By.NAME, "username").is_displayed()
    assert form.find_element(By.NAME, "password").get_attribute("type") == "password"
    # The admin's stylesheet arrived (served by the API from the image, not from anywhere else).
    # (Its hashed name where collectstatic ran, as in the image: base.<hash>.css.)
    styled = browser.execute_script(
        "return [...document.styleSheets].some((s) => s.href && /\\/admin\\/css\\/base(\\.[0-9a-f]{12})?\\.css$/.test(s.href)"
        " && s.cssRules.length > 0)")
    browser.save_screenshot(str(tmp_path / f"admin-login-{api.name}.png"))
    assert styled
    assert _foreign_resources(browser, api.base_url) == []


@pytest.mark.parametrize("pin", ["watchtime-player.js", "lib/queue.js"])
def test_player_page_refuses_an_sdk_module_with_another_hash(browser, pages, embedded_api, tmp_path, pin):
    """The import map pins every module: a wrong hash for the entry point or for one it imports fails the load."""
    driver = browser
    wrong = "sha384-" + "A" * 64
    driver.get(pages.url(embedded_api.base_url, integrity=wrong, pin=pin, label=f"wrong integrity of {pin}"))
    error = chromium.wait_for(lambda: driver.execute_script("return window.sdkError"), timeout=15)
    driver.save_screenshot(str(tmp_path / "wrong-integrity.png"))
    assert "watchtime-player.js" in error
    assert any("integrity" in entry["message"] and pin in entry["message"] for entry in driver.get_log("browser"))


def test_player_page_loads_the_sdk_it_pins(browser, pages, embedded_api):
    driver = browser
    driver.get(pages.url(embedded_api.base_url, label="pinned"))
    chromium.wait_for(lambda: driver.execute_script("return window.sdkError === null"), timeout=15)
    assert driver.execute_script("return import('watchtime-player').then((m) => m.VERSION)") == (
        sdk().version)
    # Every module of the player came from the API's versioned URLs, as the import map pins them (the
    # live counter's entry point, pinned too, is not loaded by a player page).
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert {name for name in loaded if "/sdk/" in name} == {sdk().url(embedded_api.base_url, path)
                                                          for path in sdk().files if path != LIVE_VIEWERS}
