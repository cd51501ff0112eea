"""The analytics Django app."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "watchtime.analytics"
    label = "analytics"
    verbose_name = "Watch-time analytics"
