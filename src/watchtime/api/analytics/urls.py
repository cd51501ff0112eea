"""The analytics API's routes."""

from django.urls import path

from watchtime.api.analytics import concurrency, live, views

urlpatterns = [
    path("movies/<int:movie_pk>/watch-time/", views.MovieSeriesApi.as_view(), name="movie-series"),
    path("movies/<int:movie_pk>/engagement/", views.EngagementApi.as_view(), name="movie-engagement"),
    path("movies/<int:movie_pk>/retention/", views.RetentionApi.as_view(), name="movie-retention"),
    path("users/<str:username>/watch-time/", views.UserSeriesApi.as_view(), name="user-series"),
    path("users/<str:username>/progress/", views.ProgressApi.as_view(), name="user-progress"),
    path("users/<str:username>/progress/<int:movie_pk>/", views.ProgressItemApi.as_view(), name="user-progress-item"),
    path("users/<str:username>/views/", views.UserViewsApi.as_view(), name="user-views"),
    path("stats/watch-time/", views.OverallSeriesApi.as_view(), name="overall-series"),
    path("stats/top-movies/", views.TopMoviesApi.as_view(), name="top-movies"),
    path("movies/<int:movie_pk>/live/", live.MovieLiveApi.as_view(), name="movie-live"),
    path("stats/live/", live.OverallLiveApi.as_view(), name="overall-live"),
    path("movies/<int:movie_pk>/concurrency/", concurrency.MovieConcurrencyApi.as_view(), name="movie-concurrency"),
    path("stats/concurrency/", concurrency.OverallConcurrencyApi.as_view(), name="overall-concurrency"),
]
