"""The privacy API's routes."""

from django.urls import path

from watchtime.privacy import apis

urlpatterns = [
    path("users/<str:username>/", apis.UserErasureApi.as_view(), name="user-erasure"),
    path("users/<str:username>/suppression/", apis.UserSuppressionApi.as_view(), name="user-suppression"),
    path("users/<str:username>/export/", apis.UserExportApi.as_view(), name="user-export"),
]
