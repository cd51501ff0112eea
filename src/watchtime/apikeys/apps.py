"""The apikeys Django app."""

from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "watchtime.apikeys"
    label = "apikeys"
    verbose_name = "API keys"

    def ready(self):
        from watchtime.apikeys import schema  # noqa: F401 (registers the OpenAPI security scheme)
