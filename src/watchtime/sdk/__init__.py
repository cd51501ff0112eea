"""The browser SDK as the API serves it: clients/js/watchtime-player.js (linked here so that it
ships in the package), its version and its integrity hash."""

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

SDK_FILE = Path(__file__).with_name("watchtime-player.js")
_VERSION_RE = re.compile(rb'^export const VERSION = "([^"]+)";$', re.MULTILINE)


@dataclass(frozen=True)
class SdkFile:
    body: bytes
    version: str
    etag: str  # quoted, strong
    integrity: str  # Subresource Integrity: "sha384-<base64>"


@functools.cache
def sdk_file() -> SdkFile:
    body = SDK_FILE.read_bytes()
    match = _VERSION_RE.search(body)
    if match is None:
        raise RuntimeError(f"{SDK_FILE} declares no `export const VERSION`")
    digest = hashlib.sha384(body).digest()
    return SdkFile(
        body=body,
        version=match.group(1).decode(),
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        integrity="sha384-" + base64.b64encode(digest).decode(),
    )

