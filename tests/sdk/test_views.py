"""GET /sdk/<path> and /sdk/<version>/<path>: each ES module of clients/js (the entry points
watchtime-player.js and watchtime-live-viewers.js, and lib/*.js) and nothing else, no key, any origin, revalidated by ETag or
cached for a year; the modules' relative imports resolve to served URLs; and the version and the
import map (every module's hash) the READMEs and package.json state are these files'."""

import json
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.test import Client

from watchtime.sdk import ENTRIES, LIVE_VIEWERS, sdk

pytestmark = pytest.mark.unit  # no services, no processes

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "js"
MODULES = [*ENTRIES] + sorted(f"lib/{p.name}" for p in (PACKAGE / "lib").glob("*.js"))
IMPORT_RE = re.compile(r'^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)";', re.MULTILINE | re.DOTALL)


@pytest.fixture
def client():
    return Client()


def test_the_served_files_are_the_modules_of_clients_js():
    assert list(sdk().files) == MODULES
    assert len(MODULES) > 1
    for path, file in sdk().files.items():
        assert file.body == (PACKAGE / path).read_bytes(), path


@pytest.mark.parametrize("path", MODULES)
def test_latest_is_the_module_with_its_etag_revalidated_at_each_use(client, path):
    response = client.get(f"/sdk/{path}")
    assert response.status_code == 200
    assert response.content == (PACKAGE / path).read_bytes()
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["ETag"] == sdk().files[path].etag
    assert response["Cache-Control"] == "public, no-cache"
    assert response["Access-Control-Allow-Origin"] == "*"  # module scripts are fetched in CORS mode
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize("path", MODULES)
def test_the_versioned_module_is_immutable(client, path):
    response = client.get(f"/sdk/{sdk().version}/{path}")
    assert response.status_code == 200
    assert response.content == (PACKAGE / path).read_bytes()
    assert response["ETag"] == sdk().files[path].etag
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_each_module_has_its_own_etag_and_hash():
    files = sdk().files.values()
    assert len({file.etag for file in files}) == len({file.integrity for file in files}) == len(MODULES)


@pytest.mark.parametrize("path", [*ENTRIES, "lib/queue.js"])
def test_a_matching_etag_gets_304_without_a_body(client, path):
    etag = sdk().files[path].etag
    for url in (f"/sdk/{path}", f"/sdk/{sdk().version}/{path}"):
        response = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
        assert response.content == b""
        assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize("url", [
    "/sdk/0.0.1-never/watchtime-player.js",
    "/sdk/0.0.1-never/lib/queue.js",
    "/sdk/lib/",
    "/sdk/lib",
    "/sdk/lib/nope.js",
    "/sdk/__init__.py",
    "/sdk/views.py",
    "/sdk/lib/../__init__.py",
    "/sdk/../settings.py",
    "/sdk/%2e%2e/settings.py",
    "/sdk/{version}/../__init__.py",
    "/sdk/{version}/lib/../../views.py",
    "/sdk/{version}/",
    "/sdk/package.json",
    "/sdk/watchtime-player.d.ts",
    "/sdk/test/queue.test.js",
    "/sdk/lib/queue.js/",
    "/sdk//etc/passwd",
])
def test_nothing_but_the_modules_is_served(client, url):
    response = client.get(url.format(version=sdk().version))
    assert response.status_code == 404, url
    assert response.json()["error"]["code"] == "not_found"


def test_only_get_and_head(client):
    assert client.head("/sdk/watchtime-player.js").status_code == 200
    assert client.head(f"/sdk/{sdk().version}/lib/queue.js").status_code == 200
    assert client.post("/sdk/watchtime-player.js").status_code == 405
    assert client.put(f"/sdk/{sdk().version}/lib/queue.js").status_code == 405


def _relative_imports(path: str) -> list[str]:
    return IMPORT_RE.findall((PACKAGE / path).read_text())


def test_relative_imports_resolve_to_served_modules_under_both_prefixes(client):
    """The browser resolves a module's imports against its own URL: from /sdk/ they must stay under
    /sdk/, from /sdk/<version>/ under it (immutable, one version), and every module be reached."""
    for prefix in ("https://api.example/sdk/", f"https://api.example/sdk/{sdk().version}/"):
        reached, todo = set(), [*ENTRIES]
        while todo:
            path = todo.pop()
            if path in reached:
                continue
            reached.add(path)
            for specifier in _relative_imports(path):
                assert specifier.startswith(("./", "../")), f"{path} imports {specifier!r}: no bare imports"
                url = urljoin(prefix + path, specifier)
                assert url.startswith(prefix), url
                target = url.removeprefix(prefix)
                assert target in sdk().files, f"{path} imports {specifier}, which is not served"
                todo.append(target)
        assert reached == set(MODULES), "modules never imported by an entry point"


def test_package_json_lists_every_module_and_agrees_on_the_version():
    package = json.loads((PACKAGE / "package.json").read_text())
    assert package["version"] == sdk().version
    assert package["exports"] == {".": {"types": "./watchtime-player.d.ts", "import": "./watchtime-player.js"},
                                  "./live-viewers": {"types": "./watchtime-live-viewers.d.ts",
                                                     "import": "./watchtime-live-viewers.js"}}
    assert [f for f in package["files"] if f.endswith(".js")] == MODULES
    assert package["dependencies"] == {} and package["type"] == "module"


def test_the_python_package_data_ships_every_module():
    """`src/watchtime/sdk/watchtime-player.js` and `src/watchtime/sdk/lib` link into clients/js; a
    wheel holds what pyproject's package-data globs match."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["watchtime"]
    for path in MODULES:
        assert any(fnmatch(f"sdk/{path}", glob) for glob in globs), path
    sdk_dir = ROOT / "src" / "watchtime" / "sdk"
    for entry in ENTRIES:
        assert (sdk_dir / entry).resolve() == PACKAGE / entry
    assert (sdk_dir / "lib").resolve() == PACKAGE / "lib"


def test_the_import_map_pins_every_module():
    base = "https://watchtime.example.com"
    pinned = sdk().import_map(base)
    assert pinned["imports"] == {"watchtime-player": f"{base}/sdk/{sdk().version}/watchtime-player.js",
                                 "watchtime-live-viewers": f"{base}/sdk/{sdk().version}/{LIVE_VIEWERS}"}
    assert pinned["integrity"] == {f"{base}/sdk/{sdk().version}/{path}": sdk().files[path].integrity
                                   for path in MODULES}
    assert json.loads(sdk().import_map_json(base)) == pinned


def test_python_m_watchtime_sdk_prints_the_version_and_the_import_map():
    result = subprocess.run([sys.executable, "-m", "watchtime.sdk", "https://api.example/"], capture_output=True,
                            text=True, timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == f"version {sdk().version}"
    assert lines[1] == '<script type="importmap">' and lines[-1] == "</script>"
    assert json.loads("\n".join(lines[2:-1])) == sdk().import_map("https://api.example")


def _check_readme(text: str) -> None:
    assert sdk().import_map_json() in text, "update the import map in the README (python -m watchtime.sdk)"
    urls = set(re.findall(r"/sdk/(\d[^/\s\"]*)/", text))  # not the /sdk/<version>/ of prose
    hashes = set(re.findall(r"sha384-[A-Za-z0-9+/=]{64}", text))
    assert urls == {sdk().version}
    assert hashes == {file.integrity for file in sdk().files.values()}


def test_the_sdk_readme_pins_these_modules():
    _check_readme((PACKAGE / "README.md").read_text())

