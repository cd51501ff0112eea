"""The dashboard's routes, under /dashboard/."""

from django.urls import path

from watchtime.dashboard import actions, pages

app_name = "dashboard"

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("movies/<int:movie_pk>/", pages.movie, name="movie"),
    path("viewers/", pages.find_viewer, name="find-viewer"),
    path("viewers/<str:username>/", pages.viewer, name="viewer"),
    path("viewers/<str:username>/export/", actions.export, name="export"),
    path("viewers/<str:username>/erase/", actions.erase, name="erase"),
    path("data/<str:name>/", actions.data, name="data"),
    path("login/", actions.LoginView.as_view(), name="login"),
    path("logout/", actions.logout, name="logout"),
]
