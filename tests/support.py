"""Helpers for tests that run the service's real processes: the `watchtime` entry point, the
environment of a service process on the test database, starting and stopping it, and the code of
an earlier release to run them from."""

import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

from django.db import connection

from testkit.ports import free_port
from testkit.rabbitmq import RABBITMQ_URL

WATCHTIME = str(Path(sys.executable).with_name("watchtime"))


def service_env(queue: str, **extra) -> dict:
    """Environment for a service process on the current (test) database and `queue`."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "RABBITMQ_URL": RABBITMQ_URL,
        "WATCHTIME_QUEUE": queue,
        "WATCHTIME_METRICS_PORT": str(free_port()),
        "WATCHTIME_LOG_LEVEL": "WARNING",
        **extra,
    }


def start(role: str, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([WATCHTIME, role, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen, timeout: float = 20) -> tuple[int, str]:
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


REPO = Path(__file__).resolve().parents[1]


def release_src(commit: str, directory: Path) -> Path:
    """The `src/` of an earlier commit of this repository (`git archive`), to run a previous
    release's processes from the same virtualenv (PYTHONPATH=<this>)."""
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", full, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory / "src"
