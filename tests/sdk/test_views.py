"""GET /sdk/watchtime-player.js and /sdk/<version>/watchtime-player.js: the file of clients/js, no key,
any origin, revalidated by ETag or cached for a year; and the version and hash the README and
package.json state are this file's."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from watchtime.sdk import sdk_file

pytestmark = pytest.mark.unit  # no services, no processes

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "clients" / "js" / "watchtime-player.js"


@pytest.fixture
def client():
    return Client()


def test_latest_is_the_client_file_with_an_etag(client):
    response = client.get("/sdk/watchtime-player.js")
    assert response.status_code == 200
    assert response.content == SOURCE.read_bytes()
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["ETag"] == sdk_file().etag
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Access-Control-Allow-Origin"] == "*"  # module scripts are fetched in CORS mode


def test_a_matching_etag_gets_304_without_a_body(client):
    response = client.get("/sdk/watchtime-player.js", HTTP_IF_NONE_MATCH=sdk_file().etag)
    assert response.status_code == 304
    assert response.content == b""
    assert client.get("/sdk/watchtime-player.js", HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_versioned_file_is_immutable(client):
    response = client.get(f"/sdk/{sdk_file().version}/watchtime-player.js")
    assert response.status_code == 200
    assert response.content == SOURCE.read_bytes()
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_another_version_is_not_found_in_the_error_shape(client):
    response = client.get("/sdk/0.0.1-never/watchtime-player.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_only_get_and_head(client):
    assert client.head("/sdk/watchtime-player.js").status_code == 200
    assert client.post("/sdk/watchtime-player.js").status_code == 405


def test_package_json_and_module_agree_on_the_version():
    package = json.loads((ROOT / "clients" / "js" / "package.json").read_text())
    assert package["version"] == sdk_file().version
    assert package["exports"]["."]["import"] == "./watchtime-player.js"
    assert package["dependencies"] == {} and package["type"] == "module"


@pytest.mark.parametrize("readme", ["README.md", "clients/js/README.md"])
def test_the_readme_snippet_pins_this_file(readme):
    text = (ROOT / readme).read_text()
    urls = set(re.findall(r"/sdk/(\d[^/\s\"]*)/watchtime-player\.js", text))  # not the /sdk/<version>/ of prose
    hashes = set(re.findall(r"sha384-[A-Za-z0-9+/=]{64}", text))
    assert urls == {sdk_file().version}
    assert hashes == {sdk_file().integrity}, "update the integrity hash in the README (python -m watchtime.sdk)"
