"""The hot routes' lean dispatch (POST / and the three total reads): what DRF does for them, in the
few steps they need, with DRF's own dispatch as the fallback for everything unusual.

DRF runs content negotiation, parsers, authentication, permissions and throttles through a dozen
objects per request; these routes need a cached key with the right scope, JSON in and JSON out. A
request that is not the common case (no key or an unknown one, a missing scope, a rate limit
configured, an Accept or Content-Type other than JSON, a body that does not parse or validate)
takes DRF's path, which answers it exactly as before: those checks all come before anything is
done. The views keep their DRF methods, so the OpenAPI schema and every error shape stay as they
were; the lean handler answers with the same bytes and headers DRF would.
"""

from django.conf import settings
from django.db import Error as DatabaseDriverError
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from watchtime.apikeys.authentication import cached_principal
from watchtime.errors import exception_handler

JSON = "application/json"
_RENDER = JSONRenderer().render


def json_response(data, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    """The answer DRF's JSON renderer would give."""
    response = HttpResponse(_RENDER(data), status=status, content_type=JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _accepts_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT")
    return not accept or accept == "*/*" or accept.startswith(JSON) or accept == f"{JSON}, */*"


class LeanApi(APIView):
    """An APIView whose `lean_methods` are answered by `lean_<method>(request, **kwargs)` when the
    request is the common case; the handler returns a response, or None to leave it to DRF."""

    lean_methods: frozenset[str] = frozenset()

    def dispatch(self, request, *args, **kwargs):
        method = request.method
        if method in self.lean_methods and not settings.WATCHTIME_RATE_LIMIT and _accepts_json(request):
            try:
                principal = cached_principal(request.META.get("HTTP_AUTHORIZATION", ""))
            except DatabaseDriverError as exc:  # the key's first check met an outage: 503, as DRF's path answers
                self.args, self.kwargs, self.request = args, kwargs, request
                return self._lean_error(exc)
            needed = self.required_scopes.get(method)
            if principal is not None and (needed is None or needed in principal.scopes):
                self.args, self.kwargs, self.request = args, kwargs, request
                try:
                    response = getattr(self, f"lean_{method.lower()}")(request, **kwargs)
                except Exception as exc:
                    response = self._lean_error(exc)
                if response is not None:
                    response["Allow"] = self._allow
                    return response
        return super().dispatch(request, *args, **kwargs)

    @property
    def _allow(self) -> str:
        return ", ".join(self.allowed_methods)

    def _lean_error(self, exc: Exception) -> HttpResponse:
        """What DRF's exception handling answers (the one error shape), or the exception itself."""
        answer = exception_handler(exc, {"view": self})
        if answer is None:
            raise exc
        headers = {name: value for name, value in answer.items() if name.lower() != "content-type"}
        response = json_response(answer.data, status=answer.status_code, headers=headers)
        response.database_outage = getattr(answer, "database_outage", False)
        return response
