"""`watchtime`: one entry point for every role of the image.

    watchtime api [--port N]      the REST API under gunicorn
    watchtime consumer            the RabbitMQ consumer (= manage.py consume_rabbitmq)
    watchtime migrate [--check]   apply migrations (--check: exit 1 while some are unapplied)
    watchtime dev [--port N]      embedded default: SQLite, in-process apply, 127.0.0.1:8000
    watchtime recompute|verify    rebuild / check every total and analytics figure from the event log
    watchtime backfill            rebuild the analytics that predate them (after an upgrade)
    watchtime maintain            partitions ahead, retention prune, ANALYZE (the CronJob)
    watchtime prune --before D    remove events older than D, keeping every figure
    watchtime createkey|revokekey API keys
    watchtime createuser NAME [--admin]   a dashboard user (password from the terminal or stdin)
    watchtime livetoken --movie ID [--ttl 30d]  a read-only token for one movie's live counter
    watchtime manage ...          any Django management command
"""

import argparse
import os
import sys

from watchtime.env import ConfigurationError

DJANGO_COMMANDS = {
    "consumer": "consume_rabbitmq",
    "recompute": "recompute",
    "verify": "verify",
    "backfill": "backfill",
    "maintain": "maintain",
    "prune": "prune",
    "createkey": "createkey",
    "revokekey": "revokekey",
    "createuser": "createuser",
    "livetoken": "livetoken",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="watchtime", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="role", required=True)
    for name in ("api", "dev"):
        role = sub.add_parser(name)
        role.add_argument("--port", type=int, help="listen port (default: $PORT or 8000)")
    sub.add_parser("migrate").add_argument("--check", action="store_true", help="exit 1 while migrations are unapplied")
    for name in DJANGO_COMMANDS:
        sub.add_parser(name, add_help=False)
    sub.add_parser("manage", add_help=False)
    args, rest = parser.parse_known_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchtime.settings")
    try:
        return _run(args, rest)
    except ConfigurationError as exc:
        print(f"watchtime: configuration error: {exc}", file=sys.stderr)
        return 2


def _run(args, rest: list[str]) -> int:
    if args.role == "api":
        return _api(args.port)
    if args.role == "dev":
        return _dev(args.port)
    # Only the API's gunicorn workers share a multiprocess metrics directory; every other role
    # is one process with its own registry.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from django.core.management import execute_from_command_line

    if args.role == "migrate":
        if args.check:
            execute_from_command_line(["watchtime", "migrate", "--check", *rest])  # exits 1 if unapplied
        else:
            execute_from_command_line(["watchtime", "migrate", "--no-input", *rest])
            _ensure_bootstrap_key()
        return 0
    if args.role == "manage":
        execute_from_command_line(["watchtime manage", *rest])
        return 0
    execute_from_command_line(["watchtime", DJANGO_COMMANDS[args.role], *rest])
    return 0


def _api(port: int | None) -> int:
    if port:
        os.environ["PORT"] = str(port)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/watchtime-prometheus")
    import django

    django.setup()  # fail fast on configuration errors, before gunicorn forks workers
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--config", "python:watchtime.gunicorn_conf", "watchtime.wsgi:application"]
    return run()


def _dev(port: int | None) -> int:
    """Everything embedded: no PostgreSQL, no RabbitMQ, no API keys, for trying it out."""
    os.environ.pop("RABBITMQ_URL", None)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("WATCHTIME_AUTH", "false")
    port = port or int(os.environ.get("PORT", "8000"))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["watchtime", "migrate", "--no-input", "--verbosity", "0"])
    execute_from_command_line(["watchtime", "runserver", "--noreload", f"127.0.0.1:{port}"])
    return 0


def _ensure_bootstrap_key() -> None:
    from django.conf import settings

    if settings.WATCHTIME_BOOTSTRAP_API_KEY:
        from watchtime.apikeys.services import apikey_ensure

        key = apikey_ensure(
            name="bootstrap",
            raw_key=settings.WATCHTIME_BOOTSTRAP_API_KEY,
            scopes=settings.WATCHTIME_BOOTSTRAP_API_KEY_SCOPES,
        )
        state = "is revoked (install a new key to replace it)" if key.revoked_at else f"installed ({key.scopes})"
        print(f"watchtime: bootstrap API key {key.prefix} {state}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
