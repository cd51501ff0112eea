"""Routes of the browser SDK's modules: /sdk/<path> (the current ones) and /sdk/<version>/<path>
(immutable); a version starts with a digit, a module path never does."""

from django.urls import path, re_path

from watchtime.sdk import views

urlpatterns = [
    re_path(r"^(?P<version>[0-9][^/]*)/(?P<path>.+)$", views.versioned, name="sdk-versioned"),
    path("<path:path>", views.latest, name="sdk-latest"),
]
