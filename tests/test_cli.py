"""The `watchtime` entry point as a user runs it."""

import subprocess

import requests

from testkit.ports import free_port
from testkit.waiting import wait_until
from tests import support
from tests.conftest import heartbeat


def test_dev_runs_embedded_on_sqlite_and_applies_in_process(tmp_path):
    """`make run`'s mode: no PostgreSQL, no RabbitMQ, no key; totals right after the 202."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "WATCHTIME_VAR_DIR": str(tmp_path / "var"),
        # dev ignores these on purpose: it is the embedded default
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "RABBITMQ_URL": "amqp://nobody@127.0.0.1:1/",
    }
    process = subprocess.Popen(
        [support.WATCHTIME, "dev", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/readyz"), timeout=60, message="dev server")
        session = requests.Session()
        for at in (0, 10, 20, 30):
            assert session.post(f"{base}/", json=heartbeat(at=at, ts=at)).status_code == 202
        assert session.post(f"{base}/", json=heartbeat(at=30, ts=30, session="other")).status_code == 202
        assert session.get(f"{base}/users/alice/total-watch-time/").json() == {"username": "alice", "total_watch_time": 30}
        assert session.get(f"{base}/readyz").json()["checks"]["broker"].startswith("embedded")
        assert (tmp_path / "var" / "watchtime.sqlite3").exists()
    finally:
        support.stop(process)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_migrate_check_reports_unapplied_migrations(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "DJANGO_SECRET_KEY": "x" * 50,
           "WATCHTIME_LIVE_TOKEN_KEY": "y" * 32}
    check = [support.WATCHTIME, "migrate", "--check"]
    assert subprocess.run(check, env=env, capture_output=True).returncode == 1
    assert subprocess.run([support.WATCHTIME, "migrate"], env=env, capture_output=True).returncode == 0
    assert subprocess.run(check, env=env, capture_output=True).returncode == 0
