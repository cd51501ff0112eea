"""The dashboard's Django-client tests render templates without collectstatic: unhashed static names there
(the hashed ones, collected as the image does, are the browser tests' full stack)."""

import pytest


@pytest.fixture
def plain_static(settings):
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
