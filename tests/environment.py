"""Loaded with `-p tests.environment` before Django is set up: test-run defaults.

Each run gets its own database and queue names (suffixed with the pid), so test runs never
collide with each other or with a running instance on the same machine.
"""

import os

RUN_ID = f"{os.getpid()}"

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("WATCHTIME_LIVE_TOKEN_KEY", "test-live-token-key-not-for-production")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/watchtime_{RUN_ID}")
os.environ.setdefault("WATCHTIME_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
os.environ.setdefault("WATCHTIME_QUEUE", f"watchtime-test-{RUN_ID}")
# The API tests run the embedded mode; broker tests configure RabbitMQ explicitly.
os.environ.pop("RABBITMQ_URL", None)
