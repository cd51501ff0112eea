"""Request middleware: probes, request ids, body limits, NUL refusal, request metrics, admin-only sessions."""

import re
import uuid

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connections
from django.http import JsonResponse
from django_prometheus.middleware import PrometheusAfterMiddleware
from django_prometheus.utils import Time, TimeSince

from watchtime import context
from watchtime.errors import error_body

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")


class ProbeMiddleware:
    """Answer /livez and /readyz before anything else.

    Kubelet probes address the pod IP, which is not in ALLOWED_HOSTS, and probes should not
    count in the request-latency metrics or need an API key.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/livez":
            return JsonResponse({"status": "ok"})  # the process answers; no dependency is called
        if request.path == "/readyz":
            from watchtime import health

            ready, checks = health.readiness()
            body = {"status": "ok" if ready else "unavailable", "checks": checks}
            return JsonResponse(body, status=200 if ready else 503)
        return self.get_response(request)


class RequestIdMiddleware:
    """Tag each request (and its log lines) with an id: the caller's X-Request-ID if sane."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = context.request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads them.

    A chunked body (no Content-Length) gets 411: Django would silently read it as empty.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(error_body("length_required", "Send the body with a Content-Length."), status=411)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            from watchtime.metrics import INGEST_REJECTED

            if request.method == "POST" and request.path == "/":
                INGEST_REJECTED.labels(reason="too_large").inc()
            return JsonResponse(
                error_body("too_large", f"The request body exceeds {limit} bytes."), status=413
            )
        return self.get_response(request)


class NulCharacterMiddleware:
    """400 for a NUL character in the path, query string or cookies.

    No name or filter of ours can hold one, and PostgreSQL refuses it in a query parameter,
    which would otherwise surface as a 500 from whichever lookup met it first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path_info
            or "%00" in request.META.get("QUERY_STRING", "")
            or any("\x00" in value for value in request.COOKIES.values())
        ):
            message = "NUL characters are not allowed in URLs or cookies."
            return JsonResponse(error_body("bad_request", message), status=400)
        return self.get_response(request)


class RequestMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus's request metrics, reduced to the two families the dashboard and alerts
    read: responses by status, view and method, and latency by view and method.

    Its before/after pair writes about 17 samples a request, each a lock and an mmap write in
    multiprocess mode: 7 % of an API request's CPU (bench/). Listed last, so the latency is the
    view's and what the middleware inside it adds.
    """

    def process_request(self, request):
        request.prometheus_after_middleware_event = Time()

    def process_view(self, request, view_func, *view_args, **view_kwargs):
        return None

    def process_template_response(self, request, response):
        return response

    def process_response(self, request, response):
        method, view = self._method(request), self._get_view_name(request)
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method
        ).inc()
        elapsed = TimeSince(request.prometheus_after_middleware_event)  # set by process_request above
        self.metrics.requests_latency_by_view_method.labels(view=view, method=method).observe(elapsed)
        return response


class DatabaseReconnectMiddleware:
    """A read that met a dead database connection (the server restarted or failed over since the
    connection was opened) runs once more, on a new connection.

    This replaces Django's CONN_HEALTH_CHECKS, which runs a `SELECT 1` before each request's first
    query: about three times the cost of a total read itself (bench/). Only safe methods are run
    again; a write answers its 503 and the client retries it (with its event_ids).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method in ("GET", "HEAD") and getattr(response, "database_outage", False):
            connections.close_all()
            response = self.get_response(request)
        return response


ADMIN_PREFIX = "/admin/"  # where urls.py mounts the admin
DASHBOARD_PREFIX = "/dashboard/"  # and the dashboard: the two pages signed in with a session
SESSION_PREFIXES = (ADMIN_PREFIX, DASHBOARD_PREFIX)


class AdminOnly:
    """Mixin: run this middleware for the admin and the dashboard only, pass every other request straight through.

    Sessions, logins and messages serve the browser's forms; API clients send keys, and
    the three cost about 5 % of an API request (bench/). Subclassing the originals keeps Django's
    admin checks (admin.E408-E410) satisfied. CSRF stays global: `check --deploy` wants the
    original, and it returns early for the API's CSRF-exempt views.
    """

    def __call__(self, request):
        if request.path_info.startswith(SESSION_PREFIXES):
            return super().__call__(request)
        return self.get_response(request)


class AdminSessionMiddleware(AdminOnly, SessionMiddleware):
    pass


class AdminAuthenticationMiddleware(AdminOnly, AuthenticationMiddleware):
    pass


class AdminMessageMiddleware(AdminOnly, MessageMiddleware):
    pass
