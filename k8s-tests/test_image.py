"""The real image, built and run: docker/Dockerfile on the local debootstrap base (no registry needed), then the
migrate, api and consumer roles as read-only, non-root containers against the machine's PostgreSQL and RabbitMQ.

Needs root and podman (installed with apt-get when missing). First run ~3 min (debootstrap + wheels), then the
base tarball and podman's layer cache make it ~1 min: `pytest k8s-tests/test_image.py`.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pika
import psycopg2
import pytest
import requests
from image.podman import IMAGE, Build, build_image, container_logs, ensure_tools, podman

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
UID_GID = "10001:10001"
# What Kubernetes gives the pod with readOnlyRootFilesystem, drop ALL and no privilege escalation.
HARDENED = [
    "--network", "host", "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,size=128m,mode=1777",
    "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
]


@pytest.fixture(scope="module")
def build(request: pytest.FixtureRequest) -> Build:
    ensure_tools()
    result = build_image()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # build times belong in every run's output
            reporter.write_line(
                f"\nimage test: base {result.base_seconds:.1f}s, image build {result.image_seconds:.1f}s, "
                f"{IMAGE} {result.size_bytes / 1e6:.0f} MB"
            )
    return result


def inspect(image: str) -> dict:
    return json.loads(podman("image", "inspect", image).stdout)[0]


def test_image_runs_as_numeric_non_root_user_with_the_watchtime_entrypoint(build: Build) -> None:
    image = inspect(build.image)
    config = image["Config"]
    assert config["User"] == UID_GID
    assert config["Entrypoint"] == ["watchtime"]
    assert config["Cmd"] == ["api"]
    assert config["WorkingDir"] == "/tmp"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["DJANGO_STATIC_ROOT"] == "/opt/watchtime/static"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "PROMETHEUS_MULTIPROC_DIR" not in env  # the CLI sets it for the api role only
    assert set(config["ExposedPorts"]) == {"8000/tcp", "9100/tcp"}
    assert image["Healthcheck"]["Test"] == ["CMD", "python", "/opt/watchtime/healthcheck.py"]


def test_image_carries_oci_labels(build: Build) -> None:
    labels = inspect(build.image)["Config"]["Labels"]
    for key in ("title", "description", "version", "revision", "created", "licenses", "source"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label org.opencontainers.image.{key} missing"
    assert labels["org.opencontainers.image.title"] == "watchtime"
    assert len(labels["org.opencontainers.image.revision"]) == 40  # the commit built
    datetime.fromisoformat(labels["org.opencontainers.image.created"])


INSPECT_FILESYSTEM = r"""
import importlib.util, json, os, shutil
static = "/opt/watchtime/static"
print(json.dumps({
    "uid_gid": [os.getuid(), os.getgid()],
    "executables": [t for t in ("gcc", "cc", "make", "pip", "pip3", "pytest", "apt-get") if shutil.which(t)],
    "modules": [m for m in ("pip", "pytest", "setuptools", "hypothesis", "watchtime") if importlib.util.find_spec(m)],
    "static_files": sum(len(files) for _, _, files in os.walk(static)),
    "writable": [p for p in ("/", "/opt/watchtime", "/opt/watchtime/venv", static, "/tmp") if os.access(p, os.W_OK)],
}))
"""


def test_final_stage_has_no_build_or_test_tools_and_immutable_code(build: Build) -> None:
    result = podman("run", "--rm", *HARDENED, "--entrypoint", "python", build.image, "-c", INSPECT_FILESYSTEM)
    facts = json.loads(result.stdout)
    assert facts["uid_gid"] == [10001, 10001]
    # apt-get stays (Debian's package manager, part of any Debian base); compilers, pip and test tools do not.
    assert facts["executables"] == ["apt-get"]
    assert facts["modules"] == ["watchtime"]
    assert facts["static_files"] > 50, "collectstatic did not run at build time"  # admin + DRF + drf-spectacular
    assert facts["writable"] == ["/tmp"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    image: str
    database: str
    queue: str
    api_key: str
    api_port: int = field(default_factory=free_port)
    api_metrics_port: int = field(default_factory=free_port)
    consumer_metrics_port: int = field(default_factory=free_port)
    prefix: str = field(default_factory=lambda: f"wt-image-{secrets.token_hex(4)}")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    migrate_exit_codes: dict[str, int] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **extra: str) -> list[str]:
        values = {
            "DATABASE_URL": f"postgres://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{self.database}",
            "RABBITMQ_URL": RABBITMQ_URL,
            "WATCHTIME_QUEUE": self.queue,
            "DJANGO_SECRET_KEY": self.secret_key,
            "WATCHTIME_LIVE_TOKEN_KEY": self.secret_key,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WATCHTIME_BOOTSTRAP_API_KEY": self.api_key,
            "WEB_CONCURRENCY": "2",
            **extra,
        }
        return [arg for key, value in values.items() for arg in ("--env", f"{key}={value}")]

    def run(self, role: list[str], name: str, *, detach: bool = False, **env: str):
        flags = ["--detach"] if detach else ["--rm"]
        return podman("run", *flags, "--name", f"{self.prefix}-{name}", *HARDENED, *self.env(**env), self.image, *role,
                      timeout=180, check=False)


def postgres_admin(statement: str) -> None:
    connection = psycopg2.connect(dbname="postgres", **POSTGRES)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def wait_for_ok(url: str, container: str, timeout: float = 90) -> requests.Response:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=3)
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except requests.RequestException as exc:
            last = repr(exc)
        state = podman("inspect", "--format", "{{.State.Status}}", container, check=False).stdout.strip()
        if state not in ("running", "created", "configured"):
            break
        time.sleep(0.5)
    pytest.fail(f"{url} not ready within {timeout}s (last: {last})\n{container_logs(container)}")


@pytest.fixture(scope="module")
def stack(build: Build) -> Iterator[Stack]:
    token = secrets.token_hex(4)
    stack = Stack(
        image=build.image,
        database=f"watchtime_image_{token}",
        queue=f"watchtime-image-{token}",
        api_key=f"wt_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}",
    )
    postgres_admin(f'CREATE DATABASE "{stack.database}"')
    names = [f"{stack.prefix}-{name}" for name in ("api", "consumer")]
    try:
        for phase, role in (("check before", ["migrate", "--check"]), ("migrate", ["migrate"]),
                            ("check after", ["migrate", "--check"])):
            result = stack.run(role, phase.replace(" ", "-"))
            stack.migrate_exit_codes[phase] = result.returncode
            if phase == "migrate" and result.returncode != 0:
                pytest.fail(f"migrate failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        for name, role, metrics_port, extra in (
            ("api", ["api"], stack.api_metrics_port, {"PORT": str(stack.api_port)}),
            ("consumer", ["consumer"], stack.consumer_metrics_port, {}),
        ):
            result = stack.run(role, name, detach=True, WATCHTIME_METRICS_PORT=str(metrics_port), **extra)
            assert result.returncode == 0, f"podman run {name}: {result.stderr}"
        yield stack
    finally:
        for name in names:
            podman("rm", "--force", "--time", "5", name, check=False)
        postgres_admin(f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)')
        broker = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        channel = broker.channel()
        for queue in (stack.queue, f"{stack.queue}.dead-letter"):
            channel.queue_delete(queue)
        channel.exchange_delete(f"{stack.queue}.dlx")
        broker.close()


def test_migrate_check_gates_on_unapplied_migrations(stack: Stack) -> None:
    """`migrate --check` is the wait-for-migrations init container: non-zero before, zero after `migrate`."""
    assert stack.migrate_exit_codes["check before"] == 1  # 2 would be a configuration error, not the gate
    assert stack.migrate_exit_codes["migrate"] == 0
    assert stack.migrate_exit_codes["check after"] == 0


def test_api_and_consumer_become_ready(stack: Stack) -> None:
    api = wait_for_ok(f"{stack.api}/readyz", f"{stack.prefix}-api")
    consumer = wait_for_ok(f"http://127.0.0.1:{stack.consumer_metrics_port}/readyz", f"{stack.prefix}-consumer")
    assert api.headers["Content-Type"].startswith("application/json")
    assert consumer.status_code == 200
    assert requests.get(f"{stack.api}/livez", timeout=5).status_code == 200


def test_events_posted_to_the_api_are_totalled_by_the_consumer(stack: Stack) -> None:
    wait_for_ok(f"{stack.api}/readyz", f"{stack.prefix}-api")
    wait_for_ok(f"http://127.0.0.1:{stack.consumer_metrics_port}/readyz", f"{stack.prefix}-consumer")
    auth = {"Authorization": f"Bearer {stack.api_key}"}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        {"user": "alice", "slug": "m1", "at": at, "session": "s1", "event_id": str(uuid.uuid4()),
         "ts": (start + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")}
        for at in (0, 10, 20, 30)
    ]
    assert requests.post(f"{stack.api}/", json=events, timeout=10).status_code == 401  # no key, no ingest
    response = requests.post(f"{stack.api}/", json=events, headers=auth, timeout=10)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 4

    deadline = time.monotonic() + 60
    total = None
    while time.monotonic() < deadline:
        reply = requests.get(f"{stack.api}/users/alice/total-watch-time/", headers=auth, timeout=5)
        if reply.status_code == 200:
            total = reply.json()["total_watch_time"]
            if total == 30:
                break
        time.sleep(0.5)
    assert total == 30, f"alice's total is {total}\n{container_logs(stack.prefix + '-consumer')}"


def metric_value(text: str, name: str, **labels: str) -> float | None:
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in "{ " and all(label in line for label in wanted):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_ports_serve_prometheus_metrics(stack: Stack) -> None:
    api_metrics = requests.get(f"http://127.0.0.1:{stack.api_metrics_port}/metrics", timeout=5)
    consumer_metrics = requests.get(f"http://127.0.0.1:{stack.consumer_metrics_port}/metrics", timeout=5)
    assert api_metrics.status_code == consumer_metrics.status_code == 200
    assert metric_value(api_metrics.text, "watchtime_build_info", role="api") == 1
    assert metric_value(consumer_metrics.text, "watchtime_build_info", role="consumer") == 1
    assert (metric_value(api_metrics.text, "watchtime_events_ingested_total") or 0) >= 4
    assert (metric_value(consumer_metrics.text, "watchtime_events_processed_total", outcome="applied") or 0) >= 4
    assert metric_value(consumer_metrics.text, "watchtime_consumer_ready") == 1
    # Metrics are not on the public API port.
    assert requests.get(f"{stack.api}/metrics", timeout=5).status_code == 404


def test_image_healthcheck_passes_for_api_and_consumer(stack: Stack) -> None:
    for name in ("api", "consumer"):
        result = podman("healthcheck", "run", f"{stack.prefix}-{name}", check=False)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_roles_stop_cleanly_on_sigterm(stack: Stack) -> None:
    """Kubernetes stops pods with SIGTERM; both roles must exit 0 well before the kill."""
    for name in ("api", "consumer"):
        container = f"{stack.prefix}-{name}"
        started = time.monotonic()
        podman("stop", "--time", "30", container, timeout=60)
        stopped_after = time.monotonic() - started
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        assert exit_code == "0", f"{name} exited {exit_code} after {stopped_after:.1f}s\n{container_logs(container)}"
        assert stopped_after < 30
