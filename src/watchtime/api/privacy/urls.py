"""The privacy API's routes."""

from django.urls import path

from watchtime.api.privacy import views

urlpatterns = [
    path("users/<str:username>/", views.UserErasureApi.as_view(), name="user-erasure"),
    path("users/<str:username>/suppression/", views.UserSuppressionApi.as_view(), name="user-suppression"),
    path("users/<str:username>/export/", views.UserExportApi.as_view(), name="user-export"),
]
