"""The chart drives a local run: what Kubernetes would start, started as local processes.

The chart is rendered for external services (this machine's PostgreSQL and RabbitMQ) with
existing Secrets that the test renders alongside, as an operator would create them. Each rendered
container's command, args and environment (ConfigMap and Secret references resolved from the
rendered objects) become a local process; `watchtime` from the virtualenv stands in for the
image ENTRYPOINT, and a private temporary directory stands in for the pod's /tmp emptyDir. Order
as in the cluster: the migrations Job, the wait-for-migrations init container, then api and
consumer; the rendered readiness probes gate the test, which then ingests events with the
bootstrap API key from the rendered Secret, reads the totals back, and scrapes the ports the
ServiceMonitor names.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from chartlib import Rendered, render

from testkit.ports import free_port
from testkit.rabbitmq import delete_queues

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VENV_BIN = Path(sys.executable).parent
ENTRYPOINT = ["watchtime"]  # docker/Dockerfile: ENTRYPOINT ["watchtime"]
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
RABBITMQ = {"host": "127.0.0.1", "port": 5672, "username": "guest", "password": "guest"}
# Trust authentication ignores it, but it travels the whole Secret -> env path: URL
# metacharacters in a password must not break anything.
DB_PASSWORD = "p@ss:w/rd?#%&="


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    """An existing Secret as an operator (CNPG, RabbitMQ Cluster Operator) would have created it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


class Objects:
    """ConfigMaps and Secrets by name, to resolve env references the way the kubelet does."""

    def __init__(self, objects: list[dict[str, Any]]):
        self.config_maps = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
        self.secrets = {
            o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in (o.get("data") or {}).items()}
            for o in objects
            if o["kind"] == "Secret"
        }

    def env(self, container: dict[str, Any], pod_tmp: Path) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.config_maps[source["configMapRef"]["name"]])
            else:
                env.update(self.secrets[source["secretRef"]["name"]])
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = entry["value"]
                continue
            ref = entry["valueFrom"].get("secretKeyRef") or entry["valueFrom"]["configMapKeyRef"]
            store = self.secrets if "secretKeyRef" in entry["valueFrom"] else self.config_maps
            values = store.get(ref["name"], {})
            if ref["key"] in values:
                env[entry["name"]] = values[ref["key"]]
            else:
                assert ref.get("optional"), f"{entry['name']}: {ref['name']}/{ref['key']} does not exist"
        # The pod's /tmp is a private emptyDir.
        env = {k: str(pod_tmp) + v[len("/tmp") :] if v.startswith("/tmp/") else v for k, v in env.items()}
        return {
            **env,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            "TMPDIR": str(pod_tmp),
            "HOME": str(pod_tmp),
        }


def argv(container: dict[str, Any]) -> list[str]:
    command = container.get("command") or ENTRYPOINT
    argv = [*command, *container.get("args", [])]
    if argv[0] == "watchtime":
        argv[0] = str(VENV_BIN / "watchtime")
    return argv


def named_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def probe_passes(container: dict[str, Any], probe: dict[str, Any]) -> bool:
    get = probe["httpGet"]
    headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
    url = f"http://127.0.0.1:{named_port(container, get['port'])}{get['path']}"
    try:
        return requests.get(url, headers=headers, timeout=probe["timeoutSeconds"]).status_code == 200
    except requests.RequestException:
        return False


def probe_holds(container: dict[str, Any], probe: dict[str, Any]) -> bool:
    """Kubelet semantics: a probe fails only after failureThreshold consecutive failures."""
    for attempt in range(probe["failureThreshold"]):
        if probe_passes(container, probe):
            return True
        time.sleep(probe["periodSeconds"])
    return False


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"wt_chart_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**POSTGRES)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def queue() -> Iterator[str]:
    name = f"wt-chart-{uuid.uuid4().hex[:10]}"
    yield name
    delete_queues(name)


@pytest.fixture(scope="module")
def release(database: str, queue: str) -> Rendered:
    values = {
        "postgres": {"enabled": False},
        "rabbitmq": {"enabled": False},
        "externalDatabase": {
            "host": POSTGRES["host"],
            "port": POSTGRES["port"],
            "database": database,
            "existingSecret": "pg-app",  # CloudNativePG's <cluster>-app layout
        },
        "externalRabbitmq": {
            "host": RABBITMQ["host"],
            "port": RABBITMQ["port"],
            "existingSecret": "mq-default-user",  # RabbitMQ Cluster Operator's layout
        },
        "bootstrapApiKey": {"enabled": True},
        "config": {"queue": queue},
        # Local processes share one network namespace: free ports instead of 8000/9100.
        "api": {"containerPorts": {"http": free_port(), "metrics": free_port()}, "webConcurrency": 2},
        "consumer": {"containerPorts": {"metrics": free_port()}},
        "metrics": {"serviceMonitor": {"enabled": True}},
    }
    return render(values)


@pytest.fixture(scope="module")
def objects(release: Rendered) -> Objects:
    existing = [
        secret("pg-app", {"username": POSTGRES["user"], "password": DB_PASSWORD, "dbname": "ignored"}),
        secret("mq-default-user", {"username": RABBITMQ["username"], "password": RABBITMQ["password"]}),
    ]
    return Objects(release.objects + existing)


@pytest.fixture(scope="module")
def running(release: Rendered, objects: Objects, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}

    def run_to_completion(name: str, container: dict[str, Any], timeout: float) -> None:
        pod_tmp = tmp_path_factory.mktemp(name)
        result = subprocess.run(
            argv(container), env=objects.env(container, pod_tmp), capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"

    try:
        job = release.workload("migrate")
        run_to_completion("migrate", job["spec"]["template"]["spec"]["containers"][0], timeout=180)
        api_pod = release.workload("api")["spec"]["template"]["spec"]
        (wait,) = api_pod["initContainers"]
        run_to_completion("wait-for-migrations", wait, timeout=60)
        for component in ("api", "consumer"):
            container = release.workload(component)["spec"]["template"]["spec"]["containers"][0]
            pod_tmp = tmp_path_factory.mktemp(component)
            logs[component] = pod_tmp / "output.log"
            with logs[component].open("w") as log:
                processes[component] = subprocess.Popen(
                    argv(container), env=objects.env(container, pod_tmp), stdout=log, stderr=subprocess.STDOUT
                )
        for component, process in processes.items():
            container = release.workload(component)["spec"]["template"]["spec"]["containers"][0]
            startup = container["startupProbe"]
            deadline = time.monotonic() + startup["periodSeconds"] * startup["failureThreshold"]
            while not probe_passes(container, container["readinessProbe"]):
                assert process.poll() is None, f"{component} exited:\n{logs[component].read_text()}"
                assert time.monotonic() < deadline, f"{component} never became ready:\n{logs[component].read_text()}"
                time.sleep(0.5)
        yield {"processes": processes, "logs": logs}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for component, process in processes.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def api_base(release: Rendered) -> str:
    container = release.workload("api")["spec"]["template"]["spec"]["containers"][0]
    return f"http://127.0.0.1:{named_port(container, 'http')}"


def bootstrap_key(release: Rendered, objects: Objects) -> str:
    container = release.workload("api")["spec"]["template"]["spec"]["containers"][0]
    ref = next(e for e in container["env"] if e["name"] == "WATCHTIME_BOOTSTRAP_API_KEY")["valueFrom"]["secretKeyRef"]
    return objects.secrets[ref["name"]][ref["key"]]


def ingest_and_read_total(release: Rendered, objects: Objects, logs: dict[str, Path]) -> None:
    base = api_base(release)
    headers = {"Authorization": f"Bearer {bootstrap_key(release, objects)}", "Host": "localhost"}
    user = f"chart-{uuid.uuid4().hex[:8]}"
    events = [
        {"user": user, "slug": "chart-movie", "at": at, "ts": f"2026-01-01T00:00:{at:02d}Z", "session": "s1"}
        for at in (0, 10, 20)
    ]
    response = requests.post(f"{base}/", json=events, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
    assert requests.post(f"{base}/", json=events[:1], headers={"Host": "localhost"}, timeout=10).status_code == 401

    # Generous: the machine runs several test suites at once.
    deadline = time.monotonic() + 90
    while True:
        total = requests.get(f"{base}/users/{user}/total-watch-time/", headers=headers, timeout=30)
        if total.status_code == 200 and total.json()["total_watch_time"] == 20:
            break
        assert time.monotonic() < deadline, (
            f"total never reached 20 s: {total.status_code} {total.text}\n"
            f"consumer log tail:\n{logs['consumer'].read_text()[-3000:]}"
        )
        time.sleep(0.5)


def test_chart_driven_local_run_ingests_and_totals(running: dict[str, Any], release: Rendered, objects: Objects) -> None:
    ingest_and_read_total(release, objects, running["logs"])


def test_metrics_on_the_ports_the_servicemonitor_names(
    running: dict[str, Any], release: Rendered, objects: Objects
) -> None:
    # Counters are non-zero even when this test runs alone.
    ingest_and_read_total(release, objects, running["logs"])
    (monitor,) = release.kinds("ServiceMonitor").values()
    (endpoint,) = monitor["spec"]["endpoints"]
    expected = {"api": "watchtime_events_ingested_total", "consumer": "watchtime_events_processed_total"}
    for component, metric in expected.items():
        service = next(
            s for s in release.kinds("Service").values() if s["metadata"]["labels"]["app.kubernetes.io/component"] == component
        )
        service_port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
        container = release.workload(component)["spec"]["template"]["spec"]["containers"][0]
        port = named_port(container, service_port["targetPort"])
        body = requests.get(f"http://127.0.0.1:{port}{endpoint['path']}", timeout=30).text
        samples = [line for line in body.splitlines() if line.startswith(metric) and not line.startswith("#")]
        assert samples and any(float(line.rsplit(" ", 1)[1]) > 0 for line in samples), f"{component}: {metric}"
        build_info = [line for line in body.splitlines() if line.startswith("watchtime_build_info{")]
        assert any(f'role="{component}"' in line for line in build_info), build_info
    api_http = named_port(release.workload("api")["spec"]["template"]["spec"]["containers"][0], "http")
    assert requests.get(f"http://127.0.0.1:{api_http}/metrics", headers={"Host": "localhost"}, timeout=10).status_code == 404


def test_liveness_probes_pass(running: dict[str, Any], release: Rendered) -> None:
    for component in ("api", "consumer"):
        container = release.workload(component)["spec"]["template"]["spec"]["containers"][0]
        assert probe_holds(container, container["livenessProbe"]), component
        assert running["processes"][component].poll() is None


def test_helm_test_pod_passes_against_the_running_api(
    running: dict[str, Any], release: Rendered, objects: Objects, tmp_path: Path
) -> None:
    """The `helm test` pod's own command, with its Service URL pointed at the local API process."""
    (pod,) = release.kinds("Pod").values()
    (container,) = pod["spec"]["containers"]
    command = list(container["command"])
    assert command[0] == "python"
    command[0] = sys.executable
    url = command[-1]
    service_name, service_port = url.split("/")[2].split(":")
    service = release.get("Service", service_name)
    target = next(p["targetPort"] for p in service["spec"]["ports"] if p["port"] == int(service_port))
    api = release.workload("api")["spec"]["template"]["spec"]["containers"][0]
    command[-1] = url.replace(f"{service_name}:{service_port}", f"127.0.0.1:{named_port(api, target)}")
    result = subprocess.run(command, env=objects.env(container, tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("200 ")


def test_processes_stop_within_the_grace_period(running: dict[str, Any], release: Rendered) -> None:
    """SIGTERM (after preStop in the cluster) must end each role inside terminationGracePeriodSeconds."""
    for component in ("consumer", "api"):
        pod = release.workload(component)["spec"]["template"]["spec"]
        process = running["processes"][component]
        started = time.monotonic()
        process.terminate()
        process.wait(timeout=pod["terminationGracePeriodSeconds"])
        assert time.monotonic() - started < pod["terminationGracePeriodSeconds"]
