"""Who is calling: `Authorization: Bearer <key>` resolved to a Principal, cached briefly; or the
embeddable live counter's read-only token (`?token=`, apikeys.livetokens)."""

import threading
import time

from django.conf import settings
from rest_framework import authentication, exceptions

from watchtime.apikeys import livetokens
from watchtime.apikeys.models import SCOPES
from watchtime.apikeys.services import apikey_verify, hash_key

# Verified keys are remembered briefly so a request costs no key lookup; a revocation takes
# effect within this many seconds.
CACHE_SECONDS = 10.0


class Principal:
    """Who is calling: an API key's name, prefix and scopes; or a live token's movie (no scopes)."""

    def __init__(self, name: str, prefix: str, scopes: frozenset[str], live_movie_id: int | None = None):
        self.name = name
        self.prefix = prefix
        self.scopes = scopes
        self.live_movie_id = live_movie_id


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
        principal = _verified(raw_key)
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return principal


class LiveTokenAuthentication(authentication.BaseAuthentication):
    """`?token=` of the embeddable live counter: read-only, one movie (permissions.HasScopeOrLiveToken).
    Without the parameter the next authentication (the API key) decides."""

    def authenticate(self, request):
        raw = request.query_params.get("token")
        if raw is None:
            return None
        token = livetokens.verified(raw, now=int(time.time()))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired live token.")
        return (None, Principal(f"live-token:{token.movie_id}", "", frozenset(), live_movie_id=token.movie_id))

    def authenticate_header(self, request):
        return ApiKeyAuthentication.keyword


def _verified(raw_key: str) -> Principal | None:
    """The key's principal, from the cache when verified within CACHE_SECONDS; None if invalid."""
    digest = hash_key(raw_key)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    key = apikey_verify(raw_key=raw_key)
    if key is None:
        return None
    principal = Principal(key.name, key.prefix, key.scope_set)
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now, principal)
    return principal


def cached_principal(authorization: str) -> Principal | None:
    """Who an `Authorization` header names, for the lean dispatch of the hot routes (api.lean);
    None whenever ApiKeyAuthentication would not simply let it in (no header, a malformed one, an
    invalid or revoked key), so that DRF's path gives the exact refusal."""
    if not settings.WATCHTIME_AUTH:
        return ANONYMOUS_DEV
    scheme, _, raw_key = authorization.partition(" ")
    raw_key = raw_key.strip()
    if scheme.lower() != "bearer" or not raw_key:
        return None
    return _verified(raw_key)


def forget_cached_keys() -> None:
    with _cache_lock:
        _cache.clear()
