"""Read-only tokens of the embeddable live counter: one movie, an expiry, an HMAC-SHA256 over both
with WATCHTIME_LIVE_TOKEN_KEY. Nothing is stored: rotating the key revokes every token."""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

PREFIX = "wtl"
TTL_RE = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TOKEN_RE = re.compile(r"^wtl_([0-9]{1,19})_([0-9]{1,12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class LiveToken:
    movie_id: int
    expires: int  # Unix seconds


def parse_ttl(text: str) -> int:
    """Seconds of a TTL written as a number and a unit: 90s, 15m, 12h, 30d."""
    match = TTL_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a TTL (a number and s, m, h or d: 30d)")
    return int(match[1]) * TTL_UNITS[match[2]]


def _signature(movie_id: int, expires: int, key: str) -> str:
    digest = hmac.new(key.encode(), f"{PREFIX}:{movie_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(*, movie_id: int, expires: int, key: str | None = None) -> str:
    """`wtl_<movie>_<expiry>_<signature>`: URL-safe, readable, so an operator sees what it grants."""
    return f"{PREFIX}_{movie_id}_{expires}_{_signature(movie_id, expires, key or settings.WATCHTIME_LIVE_TOKEN_KEY)}"


def verified(token: str, *, now: int, key: str | None = None) -> LiveToken | None:
    """The token's grant when its signature is right and it has not expired; None otherwise."""
    match = TOKEN_RE.match(token)
    if match is None:
        return None
    movie_id, expires = int(match[1]), int(match[2])
    expected = _signature(movie_id, expires, key or settings.WATCHTIME_LIVE_TOKEN_KEY)
    if not hmac.compare_digest(expected, match[3]) or expires <= now:
        return None
    return LiveToken(movie_id, expires)
