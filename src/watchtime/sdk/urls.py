"""Routes of the browser SDK file: /sdk/watchtime-player.js and /sdk/<version>/watchtime-player.js."""

from django.urls import path

from watchtime.sdk import views

urlpatterns = [
    path("watchtime-player.js", views.latest, name="sdk-latest"),
    path("<str:version>/watchtime-player.js", views.versioned, name="sdk-versioned"),
]
