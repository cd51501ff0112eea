"""The privacy Django app."""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "watchtime.privacy"
    label = "privacy"
    verbose_name = "Erasure and export"
