"""One domain error type and one exception handler, so every API error has one shape:

    {"error": {"code": "<machine-readable>", "message": "<human-readable>", "details": {...}}}
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import Error as DatabaseDriverError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from watchtime.db.errors import is_outage

# How long a client should wait after a 503 (database or broker unavailable) before retrying.
RETRY_AFTER_SECONDS = 5


class DomainError(Exception):
    """An expected failure the client can act on; `status` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, *, status: int = 400, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


def unavailable(code: str, message: str, details=None) -> DomainError:
    """A 503 the client should retry after Retry-After seconds."""
    return DomainError(code, message, status=503, details=details, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc, context):
    # Imported here: rest_framework.views imports the authentication classes, which import this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DatabaseDriverError) and is_outage(exc):  # InterfaceError is no DatabaseError
        # The database is unreachable (restart, failover): the client should retry, not see a 500.
        exc = unavailable("database_unavailable", "The database is unavailable; retry later.")

    if isinstance(exc, DomainError):
        set_rollback()
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status, headers=exc.headers)
        response.database_outage = exc.code == "database_unavailable"  # see api.middleware.DatabaseReconnectMiddleware
        return response
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        if isinstance(exc, exceptions.ValidationError):
            body = error_body("invalid", "The request is invalid.", exc.detail)
        else:
            body = error_body(exc.default_code, str(exc.detail))
        set_rollback()
        return Response(body, status=exc.status_code, headers=headers)
    return None


# Django's own error pages (no view matched, a disallowed Host, an uncaught exception) in the
# same JSON shape; wired as handler400/403/404/500 in urls.py.
def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def forbidden(request, exception=None):
    return JsonResponse(error_body("permission_denied", "Forbidden."), status=403)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
