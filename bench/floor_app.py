"""The floors' Django project: settings, URLs and WSGI application in one module, run by
gunicorn with watchtime's own gunicorn settings (`python:watchtime.gunicorn_conf`: gthread,
WEB_CONCURRENCY x GUNICORN_THREADS, access log on, per-worker sockets), so a product figure over
its floor is the cost of watchtime's own code on the same path.

- GET /bare: no middleware, no apps, a JsonResponse.
- GET /read?id=N: the same plus one primary-key row read on a raw cursor (CONN_MAX_AGE on, as
  the product's database settings: they are imported from watchtime.settings).
- POST /publish: the same plus one confirmed publish of the single event in the body through the
  product's publisher (watchtime.broker.publish_part), as POST / hands an event over: gathered
  with the events of concurrent requests into one message (group commit, the product's group
  size and wait), a v1 message as the product's `events.messages.combine` makes it.

DJANGO_SETTINGS_MODULE=bench.floor_app
"""

import json
import os
import uuid

from django.db import connection
from django.http import JsonResponse
from django.urls import path

AS_SETTINGS = os.environ.get("DJANGO_SETTINGS_MODULE") == __name__
if AS_SETTINGS:  # imported by bench/sections/floors.py only for the names below
    from watchtime.settings import DATABASES, RABBITMQ  # noqa: F401 - the product's connections

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-floor-not-secret-0123456789")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor_app"
USE_TZ = True
LOGGING_CONFIG = None
FLOOR_TABLE = "bench_floor"
FLOOR_ROWS = 1000


def bare(request):
    return JsonResponse({"ok": True})


def read(request):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name, total FROM {FLOOR_TABLE} WHERE id = %s", [int(request.GET.get("id", 1))])
        row = cursor.fetchone()
    return JsonResponse({"id": row[0], "name": row[1], "total": row[2]})


def combine(parts: list[bytes]) -> bytes:
    return b'{"v":1,"events":[' + b",".join(parts) + b"]}"


def publish(request):
    from watchtime import broker

    event = json.loads(request.body)
    event["event_id"] = str(uuid.uuid4())
    broker.publish_part(json.dumps(event).encode(), items=1, combine=combine, content_type="application/json")
    return JsonResponse({"accepted": 1}, status=202)


urlpatterns = [path("bare", bare), path("read", read), path("publish", publish)]


def _application():
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


if AS_SETTINGS:
    application = _application()
