"""What the figures were measured on."""

import os
import platform
import subprocess
from contextlib import closing
from importlib import metadata

from bench.stack import blocking_connection


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def api_settings() -> dict:
    """What the bench's API and floors run with: the product's settings in this environment, and
    which of them the environment set (a run made with other values than the product's defaults)."""
    from bench import scenarios

    names = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "WATCHTIME_PUBLISH_GROUP_MILLISECONDS", "WATCHTIME_PUBLISH_GROUP_EVENTS")
    return {
        "workers": scenarios.api_workers(),
        "threads": scenarios.api_threads(),
        "group_wait_ms": scenarios.group_wait_ms(),
        "ingest_connections": scenarios.ingest_connections(),
        "set_by_environment": {name: os.environ[name] for name in names if name in os.environ},
    }


def describe(stack) -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    with open("/proc/meminfo") as meminfo:
        mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    (pg_version,) = stack.sql("SHOW server_version")[0]
    pg_settings = dict(
        stack.sql(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'autovacuum', 'shared_buffers', 'max_wal_size', 'wal_compression')"
        )
    )
    with closing(blocking_connection()) as conn:
        rabbitmq = conn._impl.server_properties.get("version", b"?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "postgresql_settings": pg_settings,  # the bench's own cluster: PostgreSQL's defaults but wal_compression
        "rabbitmq": rabbitmq.decode() if isinstance(rabbitmq, bytes) else str(rabbitmq),
        "packages": {name: metadata.version(name) for name in ("django", "pika", "psycopg2-binary", "gunicorn", "djangorestframework")},
        "git_commit": commit,
        "api": api_settings(),
        "loadavg_start": loadavg(),
    }
