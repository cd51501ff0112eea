"""The ops Django app: no models, only the management commands every role runs."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "watchtime.ops"
    label = "ops"
    verbose_name = "Process entry points"
