"""The events API's routes."""

from django.urls import path

from watchtime.api.events import views

urlpatterns = [
    path("", views.EventListIngestApi.as_view(), name="events"),
    path("users/<str:username>/total-watch-time/", views.UserTotalApi.as_view(), name="user-total"),
    path(
        "users/<str:username>/movies/<int:movie_pk>/total-watch-time/",
        views.WatchTimeApi.as_view(),
        name="user-movie-total",
    ),
    path("movies/", views.MovieListCreateApi.as_view(), name="movies"),
    path("movies/<int:movie_pk>/", views.MovieDetailApi.as_view(), name="movie"),
    path("movies/<int:movie_pk>/total-watch-time/", views.MovieTotalApi.as_view(), name="movie-total"),
    # The short form users know; registered last so the fixed prefixes above win.
    path("<str:username>/<int:movie_pk>/total-watch-time/", views.WatchTimeApi.as_view(), name="user-movie-total-short"),
]
