"""The browser SDK as the API serves it: the ES modules of clients/js, linked here so that they ship
in the package (its two entry points, watchtime-player.js and the <watchtime-live-viewers> element's
watchtime-live-viewers.js, and the lib/ directory of the modules they import), its version and each
module's integrity hash."""

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SDK_DIR = Path(__file__).parent
ENTRY = "watchtime-player.js"  # the player SDK: it declares the version
LIVE_VIEWERS = "watchtime-live-viewers.js"  # the embeddable live counter
ENTRIES = (ENTRY, LIVE_VIEWERS)
EXAMPLE_BASE_URL = "https://watchtime.example.com"
_VERSION_RE = re.compile(rb'^export const VERSION = "([^"]+)";$', re.MULTILINE)
_MODULE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\.js$")


@dataclass(frozen=True)
class SdkFile:
    path: str  # under /sdk/ and /sdk/<version>/: "watchtime-player.js", "lib/queue.js", ...
    body: bytes = field(repr=False)
    etag: str  # quoted, strong
    integrity: str  # Subresource Integrity: "sha384-<base64>"


@dataclass(frozen=True)
class Sdk:
    version: str
    files: dict[str, SdkFile]  # by path, the entry points first: the only files served

    @property
    def entry(self) -> SdkFile:
        return self.files[ENTRY]

    def url(self, base_url: str, path: str = ENTRY) -> str:
        return f"{base_url.rstrip('/')}/sdk/{self.version}/{path}"

    def import_map(self, base_url: str = EXAMPLE_BASE_URL) -> dict:
        """The import map that loads this version from `base_url`, each module pinned to its hash
        (an import map's `integrity` holds one entry per URL, the entry point's imports included)."""
        return {
            "imports": {"watchtime-player": self.url(base_url), "watchtime-live-viewers": self.url(base_url, LIVE_VIEWERS)},
            "integrity": {self.url(base_url, path): file.integrity for path, file in self.files.items()},
        }

    def import_map_json(self, base_url: str = EXAMPLE_BASE_URL) -> str:
        """The import map as the READMEs show it: one line per module."""
        imports = json.dumps(self.import_map(base_url)["imports"])
        pins = ",\n".join(f"    {json.dumps(self.url(base_url, path))}: {json.dumps(file.integrity)}"
                          for path, file in self.files.items())
        return f'{{\n  "imports": {imports},\n  "integrity": {{\n{pins}\n  }}\n}}'


def _file(path: str) -> SdkFile:
    body = (SDK_DIR / path).read_bytes()
    return SdkFile(
        path=path,
        body=body,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        integrity="sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode(),
    )


@functools.cache
def sdk() -> Sdk:
    paths = [*ENTRIES] + sorted(f"lib/{module.name}" for module in (SDK_DIR / "lib").glob("*.js")
                             if _MODULE_NAME_RE.match(module.name))
    files = {path: _file(path) for path in paths}
    versions = {entry: _VERSION_RE.search(files[entry].body) for entry in ENTRIES}
    if None in versions.values() or len({m.group(1) for m in versions.values()}) != 1:
        raise RuntimeError(f"{', '.join(ENTRIES)} must each declare one `export const VERSION`, the same")
    return Sdk(version=versions[ENTRY].group(1).decode(), files=files)
