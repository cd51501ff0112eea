from django.conf import settings
from rest_framework import exceptions, permissions

from watchtime.apikeys import parse_rate
from watchtime.apikeys.services import rate_window_hit
from watchtime.metrics import INGEST_REJECTED


class HasScope(permissions.BasePermission):
    """The view's `required_scopes` maps HTTP methods to the scope they need; then the rate limit.

    HEAD needs what GET needs (Django answers it with the GET handler); any other method not
    listed (OPTIONS, or one the view refuses with 405) still needs a valid key.
    """

    def has_permission(self, request, view):
        method = "GET" if request.method == "HEAD" else request.method
        needed = getattr(view, "required_scopes", {}).get(method)
        is_ingest = request.method == "POST" and getattr(view, "counts_ingest_rejections", False)
        principal = request.auth
        if principal is None:
            if is_ingest:
                INGEST_REJECTED.labels(reason="unauthenticated").inc()
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <key>'.")
        if needed is not None and needed not in principal.scopes:
            if is_ingest:
                INGEST_REJECTED.labels(reason="forbidden").inc()
            raise exceptions.PermissionDenied(f"This API key lacks the '{needed}' scope.")
        limit = parse_rate(settings.WATCHTIME_RATE_LIMIT)
        if limit is not None and principal.prefix:
            count, seconds_left = rate_window_hit(key_prefix=principal.prefix, window_seconds=limit[1])
            if count > limit[0]:
                if is_ingest:
                    INGEST_REJECTED.labels(reason="rate_limited").inc()
                raise exceptions.Throttled(wait=seconds_left)
        return True
