"""Debian's headless Chromium driven by Debian's chromedriver through Selenium: loopback only,
a fresh profile per browser, autoplay allowed; plus the player pages' own little web server."""

import http.server
import json
import shutil
import tempfile
import threading
import time
from html import escape
from pathlib import Path
from string import Template
from urllib.parse import parse_qs, urlencode, urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from watchtime.sdk import ENTRY, sdk

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HERE = Path(__file__).parent
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Loopback only: any other host name fails to resolve, so nothing can come from a CDN.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--window-size=800,600",
    "--mute-audio",
    "--disable-extensions",
    "--disable-default-apps",
)


def launch(profile_parent: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=profile_parent)}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(180)
    driver.set_page_load_timeout(60)
    return driver


def quit(driver: webdriver.Chrome) -> None:
    """Quit, whatever state the browser is in, once (the suite quits each browser once it is done)."""
    process = driver.service.process
    if process is None or process.poll() is not None:
        return
    try:
        driver.quit()
    except Exception:
        pass


def import_map(api_base: str, integrity: str | None = None, pin: str = ENTRY) -> str:
    """The import map of the README for the SDK of `api_base`; `integrity` replaces the hash of the
    module at `pin` (a path under /sdk/<version>/)."""
    pinned = sdk().import_map(api_base)
    if integrity is not None:
        pinned["integrity"][sdk().url(api_base, pin)] = integrity
    return json.dumps(pinned, indent=1)


class PageServer:
    """Serves the player page (`/player.html?api=<API base URL>&ingest=<ingest base URL>&label=..`; the SDK's
    modules come from `api`, heartbeats go to `ingest`; `integrity` and `pin` put another hash in the import
    map for the module at `pin`, the entry point by default), the harness and the clip, and the live counter's
    page (`/live.html?api=..&movie=..&token=..&label=..`) on 127.0.0.1:<port>, so pages at
    http://localhost:<port> call the APIs on 127.0.0.1 cross-origin."""

    def __init__(self, port: int, clip: Path, integrity: str | None = None):
        self.port = port
        template = Template((HERE / "player.html").read_text())
        live_template = Template((HERE / "live.html").read_text())
        files = {"/harness.js": ("text/javascript", (HERE / "harness.js").read_bytes()),
                 "/clip.webm": ("video/webm", clip.read_bytes())}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                if url.path == "/player.html":
                    query = {name: values[0] for name, values in parse_qs(url.query).items()}
                    body = template.substitute(
                        import_map=import_map(query["api"], query.get("integrity", integrity),
                                              query.get("pin", ENTRY)),
                        ingest_url=f"{query['ingest']}/", label=query.get("label", ""),
                    ).encode()
                    content_type = "text/html; charset=utf-8"
                elif url.path == "/live.html":
                    query = {name: values[0] for name, values in parse_qs(url.query).items()}
                    body = live_template.substitute(import_map=import_map(query["api"]), api=escape(query["api"]),
                                                    movie=escape(query["movie"]), token=escape(query["token"]),
                                                    label=escape(query.get("label", ""))).encode()
                    content_type = "text/html; charset=utf-8"
                elif url.path in files:
                    content_type, body = files[url.path]
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def url(self, api_base: str, ingest_base: str | None = None, host: str = "localhost", **query) -> str:
        query = {"api": api_base, "ingest": ingest_base or api_base, **query}
        return f"http://{host}:{self.port}/player.html?" + urlencode(query)

    def live_url(self, api_base: str, movie: int, token: str, label: str = "") -> str:
        query = {"api": api_base, "movie": movie, "token": token, "label": label}
        return f"http://localhost:{self.port}/live.html?" + urlencode(query)


def wait_for(predicate, timeout: float = 30):
    """`predicate()`'s first truthy value, polled every 0.2 s; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value
