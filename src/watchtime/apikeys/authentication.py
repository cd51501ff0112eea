"""Who is calling: `Authorization: Bearer <key>` resolved to a Principal, cached briefly."""

import threading
import time

from django.conf import settings
from rest_framework import authentication, exceptions

from watchtime.apikeys.models import SCOPES
from watchtime.apikeys.services import apikey_verify, hash_key

# Verified keys are remembered briefly so a request costs no key lookup; a revocation takes
# effect within this many seconds.
CACHE_SECONDS = 10.0


class Principal:
    """Who is calling: an API key's name, prefix and scopes."""

    def __init__(self, name: str, prefix: str, scopes: frozenset[str]):
        self.name = name
        self.prefix = prefix
        self.scopes = scopes


ANONYMOUS_DEV = Principal("auth-off", "", frozenset(SCOPES))

_cache: dict[str, tuple[float, Principal]] = {}
_cache_lock = threading.Lock()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`; with WATCHTIME_AUTH=false (development only) everyone is let in."""

    keyword = "Bearer"

    def authenticate(self, request):
        if not settings.WATCHTIME_AUTH:
            return (None, ANONYMOUS_DEV)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <key>'.")
        return (None, self._principal(raw_key.strip()))

    def authenticate_header(self, request):
        return self.keyword

    def _principal(self, raw_key: str) -> Principal:
        digest = hash_key(raw_key)
        now = time.monotonic()
        with _cache_lock:
            hit = _cache.get(digest)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        key = apikey_verify(raw_key=raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        principal = Principal(key.name, key.prefix, key.scope_set)
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[digest] = (now, principal)
        return principal


def forget_cached_keys() -> None:
    with _cache_lock:
        _cache.clear()
