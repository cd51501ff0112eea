"""Settings fail fast: a bad value stops every role at start with a message naming it (exit 2).

Each case runs `watchtime` in a fresh process with a clean environment, so it gets fresh settings.
"""

import os
import secrets
import subprocess

import pytest

from testkit.ports import free_port
from tests import support

SECRET = "hunter2-do-not-print"


@pytest.fixture
def base_env(tmp_path):
    """A valid production configuration (no DEBUG) on a throwaway SQLite file."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "WATCHTIME_LIVE_TOKEN_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "WATCHTIME_VAR_DIR": str(tmp_path / "var"),
    }


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([support.WATCHTIME, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", f"postgres://app:{SECRET}@db.example:notaport/watchtime", "DATABASE_URL is malformed"),
        ("DATABASE_URL", f"mysql://app:{SECRET}@127.0.0.1/watchtime", "DATABASE_URL must use one of the schemes"),
        ("DATABASE_URL", "postgres://127.0.0.1:5432", "DATABASE_URL names no database"),
        ("DATABASE_URL", "postgres:///watchtime", "DATABASE_URL has no host name"),
        ("DATABASE_URL", "watchtime", "DATABASE_URL must use one of the schemes"),
        ("DATABASE_READ_URL", "postgres://127.0.0.1:5432", "DATABASE_READ_URL names no database"),
        ("DATABASE_READ_URL", "postgres://127.0.0.1/watchtime", "DATABASE_READ_URL needs a PostgreSQL DATABASE_URL"),
        ("DATABASE_READ_MAX_LAG_SECONDS", "-1", "DATABASE_READ_MAX_LAG_SECONDS=-1 must be at least 0"),
        ("RABBITMQ_URL", f"amqp://guest:{SECRET}@127.0.0.1:99999/", "RABBITMQ_URL is malformed"),
        ("RABBITMQ_URL", "http://127.0.0.1:5672/", "RABBITMQ_URL must use one of the schemes"),
        ("RABBITMQ_URL", "amqp:///vhost", "RABBITMQ_URL has no host name"),
        ("DJANGO_SECRET_KEY", None, "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false"),
        ("DJANGO_SECRET_KEY", "", "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false"),
        ("WATCHTIME_LIVE_TOKEN_KEY", None, "WATCHTIME_LIVE_TOKEN_KEY is required when DJANGO_DEBUG is false"),
        ("WATCHTIME_LIVE_WINDOW_SECONDS", "0", "WATCHTIME_LIVE_WINDOW_SECONDS=0 must be at least 1"),
        ("WATCHTIME_AUTH", "false", "WATCHTIME_AUTH=false is only allowed with DJANGO_DEBUG=true"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG='maybe' is not a boolean"),
        ("WATCHTIME_RATE_LIMIT", "lots", "WATCHTIME_RATE_LIMIT"),
        ("WATCHTIME_BOOTSTRAP_API_KEY", SECRET, "WATCHTIME_BOOTSTRAP_API_KEY must look like"),
        ("WATCHTIME_BOOTSTRAP_API_KEY_SCOPES", "ingest,superuser", "WATCHTIME_BOOTSTRAP_API_KEY_SCOPES must be"),
        ("WATCHTIME_MAX_CREDIT_SECONDS", "-5", "WATCHTIME_MAX_CREDIT_SECONDS=-5 must be at least 1"),
        ("WATCHTIME_TIME_ZONE", "Mars/Olympus", "WATCHTIME_TIME_ZONE: 'Mars/Olympus' is not an IANA time zone name"),
    ],
)
def test_migrate_refuses_a_bad_setting_with_a_clear_message(base_env, variable, value, message):
    env = {**base_env, variable: value} if value is not None else {k: v for k, v in base_env.items() if k != variable}
    result = run(env, "migrate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"watchtime: configuration error: {message}" in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr


def test_the_api_refuses_auth_off_before_starting_gunicorn(base_env):
    result = run({**base_env, "WATCHTIME_AUTH": "false"}, "api", "--port", str(free_port()))
    assert result.returncode == 2 and "WATCHTIME_AUTH=false is only allowed" in result.stderr
    assert "gunicorn" not in result.stdout.lower()


def test_debug_allows_what_production_refuses(base_env):
    env = {k: v for k, v in base_env.items() if k not in ("DJANGO_SECRET_KEY", "WATCHTIME_LIVE_TOKEN_KEY")}
    result = run({**env, "DJANGO_DEBUG": "true", "WATCHTIME_AUTH": "false"}, "manage", "check")
    assert result.returncode == 0, result.stderr


def production(base_env) -> dict:
    """What the chart gives the API: external PostgreSQL and RabbitMQ, hosts, TLS at the ingress."""
    return {
        **base_env,
        "DATABASE_URL": "postgres://watchtime@127.0.0.1:1/watchtime",  # never connected to by `check`
        "DATABASE_PASSWORD": SECRET,
        "RABBITMQ_URL": "amqp://watchtime@127.0.0.1:1/",
        "RABBITMQ_PASSWORD": SECRET,
        "DJANGO_ALLOWED_HOSTS": "watchtime.example.com,watchtime-api.watchtime.svc,localhost",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://watchtime.example.com",
        "WATCHTIME_RATE_LIMIT": "200/s",
    }


def test_check_deploy_is_clean_for_production_settings(base_env):
    result = run(production(base_env), "manage", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "warning"),
    [({"DJANGO_DEBUG": "true"}, "security.W018"), ({"DJANGO_SECRET_KEY": "short-key"}, "security.W009")],
)
def test_check_deploy_fails_on_a_weakened_setting(base_env, change, warning):
    result = run({**production(base_env), **change}, "manage", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_production_cookies_and_tls_settings(base_env):
    shown = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.ALLOWED_HOSTS, s.DEBUG)"
    )
    result = run(production(base_env), "manage", "shell", "--no-imports", "-c", shown)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['watchtime.example.com', 'watchtime-api.watchtime.svc', 'localhost'] False"
    )


def test_the_read_replica_is_the_primary_s_twin_read_only_and_only_routed_to_when_set(base_env):
    shown = (
        "from django.conf import settings as s; r = s.DATABASES['replica']; d = s.DATABASES['default']; "
        "print(r['HOST'], r['PORT'], r['NAME'], r['USER'], r['PASSWORD'] == d['PASSWORD'], "
        "r['CONN_MAX_AGE'] == d['CONN_MAX_AGE'], r['OPTIONS']['options'], r['TEST']['MIRROR'], "
        "s.DATABASE_ROUTERS, s.DATABASE_READ_MAX_LAG_SECONDS)"
    )
    env = {**production(base_env), "DATABASE_READ_URL": "postgres://pg-ro:5433/watchtime"}
    result = run(env, "manage", "shell", "--no-imports", "-c", shown)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "pg-ro 5433 watchtime watchtime True True -c default_transaction_read_only=on default "
        "['watchtime.db.router.ReplicaRouter'] 30"
    )
    assert run(env, "manage", "check", "--deploy", "--fail-level", "WARNING").returncode == 0
    without = run(production(base_env), "manage", "shell", "--no-imports", "-c",
                  "from django.conf import settings as s; print(sorted(s.DATABASES), s.DATABASE_ROUTERS)")
    assert without.stdout.strip() == "['default'] []"
