"""Scope checks: which API key scope each view's methods need."""

from rest_framework import exceptions, permissions

from watchtime.metrics import INGEST_REJECTED


def is_ingest(request, view) -> bool:
    """Whether the request is an ingest, whose refusals are counted in watchtime_ingest_rejected_total."""
    return request.method == "POST" and getattr(view, "counts_ingest_rejections", False)


class HasScope(permissions.BasePermission):
    """The view's `required_scopes` maps HTTP methods to the scope they need (or a tuple of
    scopes, any one of which will do).

    HEAD needs what GET needs (Django answers it with the GET handler); any other method not
    listed (OPTIONS, or one the view refuses with 405) still needs a valid key.
    """

    def has_permission(self, request, view):
        method = "GET" if request.method == "HEAD" else request.method
        needed = getattr(view, "required_scopes", {}).get(method)
        principal = request.auth
        if principal is None:
            if is_ingest(request, view):
                INGEST_REJECTED.labels(reason="unauthenticated").inc()
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <key>'.")
        alternatives = (needed,) if isinstance(needed, str) else needed
        if alternatives is not None and not principal.scopes.intersection(alternatives):
            if is_ingest(request, view):
                INGEST_REJECTED.labels(reason="forbidden").inc()
            raise exceptions.PermissionDenied(f"This API key lacks the '{' or '.join(alternatives)}' scope.")
        return True


class HasScopeOrLiveToken(HasScope):
    """HasScope, or a live token (authentication.LiveTokenAuthentication) for the movie of the URL."""

    def has_permission(self, request, view):
        principal = request.auth
        if principal is not None and principal.live_movie_id is not None:
            if principal.live_movie_id != view.kwargs.get("movie_pk"):
                raise exceptions.PermissionDenied("This live token is for another movie.")
            return True
        return super().has_permission(request, view)
