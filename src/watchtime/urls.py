"""Top-level routes: the API, its OpenAPI schema and docs, the admin, the dashboard; errors in the one JSON shape."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from watchtime.api.middleware import ADMIN_PREFIX, DASHBOARD_PREFIX

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(ADMIN_PREFIX.lstrip("/"), admin.site.urls),
    # The events API first: its total reads and POST / are the hot routes, and every route tried before costs them.
    path("", include("watchtime.api.events.urls")),
    path("", include("watchtime.api.analytics.urls")),
    path("", include("watchtime.api.privacy.urls")),
    path("sdk/", include("watchtime.sdk.urls")),
    path(DASHBOARD_PREFIX.lstrip("/"), include("watchtime.dashboard.urls")),
]

handler400 = "watchtime.errors.bad_request"
handler403 = "watchtime.errors.forbidden"
handler404 = "watchtime.errors.not_found"
handler500 = "watchtime.errors.server_error"
