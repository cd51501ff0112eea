"""The per-key rate limit (WATCHTIME_RATE_LIMIT) as a DRF throttle, counted in the database so
that every API process shares one window per key."""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from watchtime.apikeys import parse_rate
from watchtime.apikeys.permissions import is_ingest
from watchtime.apikeys.services import rate_window_hit
from watchtime.metrics import INGEST_REJECTED


class ApiKeyRateThrottle(BaseThrottle):
    """Runs after authentication and the scope check (DRF's order), so only valid keys are counted."""

    def __init__(self):
        self._seconds_left: float | None = None

    def allow_request(self, request, view) -> bool:
        limit = parse_rate(settings.WATCHTIME_RATE_LIMIT)
        principal = request.auth
        if limit is None or principal is None or not principal.prefix:
            return True
        count, self._seconds_left = rate_window_hit(key_prefix=principal.prefix, window_seconds=limit[1])
        if count <= limit[0]:
            return True
        if is_ingest(request, view):
            INGEST_REJECTED.labels(reason="rate_limited").inc()
        return False

    def wait(self) -> float | None:
        return self._seconds_left
