"""The dashboard as a Django app: no models; its templates, static files and template filters."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "watchtime.dashboard"
    label = "dashboard"
