"""Real `watchtime api` processes (gunicorn, embedded mode) on PostgreSQL databases the tests create.

Embedded mode applies accepted events inside the request, so a hostile input that slipped
through would change a total before the answer arrives.
"""

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import requests

from testkit.ports import free_port
from testkit.waiting import wait_until
from tests import support


def admin_connection(dbname: str = "postgres"):
    """A connection to the tests' PostgreSQL server (host, port and user of DATABASE_URL)."""
    url = urlsplit(os.environ["DATABASE_URL"])
    conn = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username or "postgres", dbname=dbname)
    conn.autocommit = True
    return conn


@dataclass
class LiveServer:
    base_url: str
    port: int
    api_key: str  # every scope
    env: dict
    dbname: str
    log_path: Path
    process: subprocess.Popen | None = None

    def watchtime(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """Run a `watchtime` command against this server's database."""
        return subprocess.run(
            [support.WATCHTIME, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=120
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def snapshot(self) -> dict:
        """Every total and the event log's size, straight from the database."""
        from watchtime.events.models import CustomUser, Event, Movie, Stream, WatchTime

        queries = {
            "events": f"SELECT count(*) FROM {Event._meta.db_table}",
            "users": f"SELECT username, total_watch_time FROM {CustomUser._meta.db_table} ORDER BY username",
            "movies": f"SELECT id, slug, title, duration, total_watch_time FROM {Movie._meta.db_table} ORDER BY id",
            "watch_times": f"SELECT user_id, movie_id, total, last_moment FROM {WatchTime._meta.db_table} ORDER BY 1, 2",
            "streams": f"SELECT user_id, movie_id, session, total FROM {Stream._meta.db_table} ORDER BY 1, 2, 3",
        }
        conn = admin_connection(self.dbname)
        try:
            with conn.cursor() as cursor:
                result = {}
                for name, sql in queries.items():
                    cursor.execute(sql)
                    result[name] = cursor.fetchall()
                (result["events"],) = result["events"][0]
                return result
        finally:
            conn.close()


def new_api_key() -> str:
    return f"wt_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"


def create_database(name: str) -> None:
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_sql(*statements: str) -> None:
    conn = admin_connection()
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def start_server(
    workdir: Path, *, name: str, api_key: str | None = None, migrate: bool = True, **extra_env: str
) -> LiveServer:
    """`watchtime api` on database `name`; `migrate` applies migrations and installs `api_key`
    (a new key with every scope when None) as the bootstrap key."""
    url = urlsplit(os.environ["DATABASE_URL"])
    port = free_port()
    api_key = api_key or new_api_key()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "DATABASE_URL": f"postgres://{url.username or 'postgres'}@{url.hostname}:{url.port or 5432}/{name}",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "WATCHTIME_LIVE_TOKEN_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WATCHTIME_BOOTSTRAP_API_KEY": api_key,
        "WATCHTIME_BOOTSTRAP_API_KEY_SCOPES": "ingest,read,admin",
        "WATCHTIME_METRICS_PORT": str(free_port()),
        "WATCHTIME_LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        # The code under test, where the virtualenv's editable install points at another checkout.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        **extra_env,
    }
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}", port=port, api_key=api_key, env=env, dbname=name,
        log_path=workdir / f"{name}-{port}.log",
    )
    if migrate:
        migrated = server.watchtime("migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    # Its own multiprocess directory: gunicorn wipes it at start, which must not hit another server.
    api_env = {**env, "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"{name}-{port}-prometheus")}
    with server.log_path.open("w") as log:  # a file, not a pipe: thousands of access lines must not block gunicorn
        server.process = subprocess.Popen([support.WATCHTIME, "api"], env=api_env, stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: _ready(server), timeout=60, message=f"watchtime api on port {port}")
    return server


def _ready(server: LiveServer) -> bool:
    assert server.process.poll() is None, f"watchtime api exited:\n{server.log()}"
    try:
        return requests.get(f"{server.base_url}/readyz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a worker too busy to answer in time
        return False


def stop_server(server: LiveServer) -> None:
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
