"""The analytics API's routes."""

from django.urls import path

from watchtime.analytics import apis

urlpatterns = [
    path("movies/<int:movie_pk>/watch-time/", apis.MovieSeriesApi.as_view(), name="movie-series"),
    path("movies/<int:movie_pk>/engagement/", apis.EngagementApi.as_view(), name="movie-engagement"),
    path("movies/<int:movie_pk>/retention/", apis.RetentionApi.as_view(), name="movie-retention"),
    path("users/<str:username>/watch-time/", apis.UserSeriesApi.as_view(), name="user-series"),
    path("users/<str:username>/progress/", apis.ProgressApi.as_view(), name="user-progress"),
    path("users/<str:username>/progress/<int:movie_pk>/", apis.ProgressItemApi.as_view(), name="user-progress-item"),
    path("users/<str:username>/views/", apis.UserViewsApi.as_view(), name="user-views"),
    path("stats/watch-time/", apis.OverallSeriesApi.as_view(), name="overall-series"),
    path("stats/top-movies/", apis.TopMoviesApi.as_view(), name="top-movies"),
]
