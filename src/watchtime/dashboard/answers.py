"""The API's answers in-process: every figure on a page is what the API's own view answers for the same query."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, QueryDict
from django.urls import reverse

from watchtime.api.analytics import concurrency, live
from watchtime.api.analytics import views as analytics
from watchtime.api.privacy import views as privacy

# name (the API's URL name) -> its view; the dashboard's session sign-in stands in for the API key.
VIEWS = {
    "overall-series": analytics.OverallSeriesApi,
    "top-movies": analytics.TopMoviesApi,
    "movie-series": analytics.MovieSeriesApi,
    "movie-engagement": analytics.EngagementApi,
    "movie-retention": analytics.RetentionApi,
    "user-series": analytics.UserSeriesApi,
    "user-progress": analytics.ProgressApi,
    "user-views": analytics.UserViewsApi,
    "user-export": privacy.UserExportApi,
    "user-erasure": privacy.UserErasureApi,
    "overall-live": live.OverallLiveApi,
    "movie-live": live.MovieLiveApi,
    "overall-concurrency": concurrency.OverallConcurrencyApi,
    "movie-concurrency": concurrency.MovieConcurrencyApi,
}
ADMIN_ONLY = {"user-export", "user-erasure"}
# The URL arguments each answer is about (the rest of a query goes to the view as it is).
ARGUMENTS = {"movie": ("movie_pk", int), "user": ("username", str)}
_DISPATCH = {name: view.as_view(authentication_classes=(), permission_classes=(), throttle_classes=())
             for name, view in VIEWS.items()}


@dataclass
class Answer:
    status: int
    data: dict | list | None

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def message(self) -> str:
        """The API's error message, in its words."""
        error = (self.data or {}).get("error", {}) if isinstance(self.data, dict) else {}
        return error.get("message") or f"The API answered {self.status}."


def respond(request: HttpRequest, name: str, query: dict, method: str = "GET", **arguments):
    """The API view's own response (unrendered) to `query` (a format=csv in it included)."""
    sub = HttpRequest()
    sub.method = method
    sub.path = sub.path_info = reverse(name, kwargs=arguments)
    encoded = urlencode({k: v for k, v in query.items() if v not in (None, "")})
    sub.GET = QueryDict(encoded)
    sub.META = {**request.META, "REQUEST_METHOD": method, "QUERY_STRING": encoded, "PATH_INFO": sub.path}
    sub.COOKIES = {}
    return _DISPATCH[name](sub, **arguments)


def answer(request: HttpRequest, name: str, query: dict | None = None, method: str = "GET", **arguments) -> Answer:
    response = respond(request, name, {**(query or {}), "format": "json"}, method, **arguments)
    return Answer(response.status_code, getattr(response, "data", None))
