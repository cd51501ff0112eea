"""Every dashboard query and alert expression, evaluated by a real Prometheus scraping the real service under load.

Starts `watchtime migrate`, `watchtime api` and `watchtime consumer` against a fresh PostgreSQL database and a fresh
queue on the machine's RabbitMQ, Debian's `prometheus` scraping both metrics ports (and RabbitMQ's
rabbitmq_prometheus plugin) every second with the shipped rules loaded, drives a short load including invalid
requests and a poison message, then asks Prometheus's HTTP API.
"""

import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg2
import pytest
import requests
import yaml

from testkit.ports import free_port

from .artefacts import (
    DASHBOARD_FILE,
    PANELS_KUBERNETES_ONLY,
    PANELS_WITH_DATA_FROM_RABBITMQ,
    PANELS_WITH_DATA_UNDER_LOAD,
    RULES_FILE,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBITMQ_PROMETHEUS = "127.0.0.1:15692"
RABBITMQ_FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"]
API_JOB, CONSUMER_JOB, RABBITMQ_JOB = "watchtime-api", "watchtime-consumer", "rabbitmq"
USERS, MOVIES = 5, 4
LOAD_WAVES, EVENT_REQUESTS, EVENTS_PER_REQUEST = 2, 15, 10  # 300 events
WAVE_PAUSE = 2.5  # seconds: more than two scrape intervals
STARTUP_TIMEOUT = 30.0


@dataclass
class Stack:
    """The running service, its Prometheus and what the load did."""

    prometheus_url: str
    queue: str
    api_metrics: str
    consumer_metrics: str
    rabbitmq_metrics: str | None
    events_accepted: int = 0
    log_files: list[Path] = field(default_factory=list)

    def query(self, expr: str) -> dict:
        response = requests.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}\n-> {response.text}"
        return body["data"]

    def scalar(self, expr: str) -> float:
        result = self.query(expr)["result"]
        return float(result[0]["value"][1]) if result else float("nan")

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.log_files)


def wait_until(check, what: str, timeout: float, processes=(), logs=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited with {process.returncode} while waiting for {what}\n{logs()}")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs()}")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200


def rabbitmq_prometheus_available() -> bool:
    """Whether the broker's prometheus plugin answers, enabling it when rabbitmq-plugins is at hand."""
    url = f"http://{RABBITMQ_PROMETHEUS}/metrics"
    try:
        return http_ok(url)
    except requests.RequestException:
        pass
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        return False
    if subprocess.run([plugins, "enable", "rabbitmq_prometheus"], capture_output=True, timeout=60).returncode:
        return False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if http_ok(url):
                return True
        except requests.RequestException:
            time.sleep(0.5)
    return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def prometheus_config(ports: dict[str, int], with_rabbitmq: bool) -> dict:
    scrape_configs = [
        {"job_name": API_JOB, "static_configs": [{"targets": [f"127.0.0.1:{ports['api_metrics']}"]}]},
        {"job_name": CONSUMER_JOB, "static_configs": [{"targets": [f"127.0.0.1:{ports['consumer_metrics']}"]}]},
    ]
    if with_rabbitmq:
        scrape_configs.append({
            "job_name": RABBITMQ_JOB,
            "metrics_path": "/metrics/detailed",
            "params": {"family": RABBITMQ_FAMILIES},
            "static_configs": [{"targets": [RABBITMQ_PROMETHEUS]}],
        })
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": scrape_configs,
    }


def event(user: int, movie: int, at: int) -> dict:
    return {
        "user": f"viewer-{user}",
        "slug": f"movie-{movie}",
        "at": at,
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "session": f"s-{user}-{movie}",
        "event_id": str(uuid.uuid4()),
    }


def drive_load(api: str, api_key: str, queue: str) -> int:
    """Valid batches, invalid and unauthenticated requests, reads, and one poison message; returns events accepted.

    Two waves a few scrapes apart: labelled series (per view, per status) appear with the first wave, so rates over
    the second are real numbers rather than NaN from series that were first scraped already complete.
    """
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    accepted = 0
    for wave in range(LOAD_WAVES):
        for request_no in range(wave * EVENT_REQUESTS, (wave + 1) * EVENT_REQUESTS):
            batch = [event(user=(request_no + i) % USERS, movie=i % MOVIES, at=5 * request_no)
                     for i in range(EVENTS_PER_REQUEST)]
            response = session.post(f"{api}/", json=batch, timeout=10)
            assert response.status_code == 202, response.text
            accepted += len(batch)
        invalid = session.post(f"{api}/", json={"user": "", "slug": "movie-0", "at": -1}, timeout=10)
        assert invalid.status_code == 400, invalid.text
        unauthenticated = requests.post(f"{api}/", json=event(0, 0, 0), timeout=10)
        assert unauthenticated.status_code in (401, 403), unauthenticated.text
        for user in range(USERS):
            # Read traffic for the latency panels; a viewer exists once the consumer has applied
            # their first batch, which may not have happened yet.
            assert session.get(f"{api}/users/viewer-{user}/total-watch-time/", timeout=10).status_code in (200, 404)
        assert session.get(f"{api}/movies/", timeout=10).status_code == 200
        if wave < LOAD_WAVES - 1:
            time.sleep(WAVE_PAUSE)

    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        connection.channel().basic_publish(
            exchange="", routing_key=queue, body=b"{this is not an event",
            properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
        )
    finally:
        connection.close()
    return accepted


@pytest.fixture(scope="module")
def stack(prometheus_tools, tmp_path_factory):
    watchtime = Path(sys.executable).parent / "watchtime"
    if not watchtime.exists():
        pytest.fail(f"{watchtime} not found: install the project into the virtualenv (pip install -e .)")
    workdir = tmp_path_factory.mktemp("prometheus-queries")
    suffix = secrets.token_hex(4)
    database, queue = f"watchtime_promtest_{suffix}", f"watch-time-promtest-{suffix}"
    api_key = f"wt_prom{suffix}_{secrets.token_hex(16)}"
    ports = {name: free_port() for name in ("api", "api_metrics", "consumer_metrics", "prometheus")}
    processes: list[subprocess.Popen] = []
    admin = psycopg2.connect(dbname="postgres", **POSTGRES)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        base_env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("WATCHTIME_", "DJANGO_", "DATABASE_", "RABBITMQ_", "PROMETHEUS_"))}
        env = {
            **base_env,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "RABBITMQ_URL": RABBITMQ_URL,
            "WATCHTIME_QUEUE": queue,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "WATCHTIME_LIVE_TOKEN_KEY": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WATCHTIME_BOOTSTRAP_API_KEY": api_key,
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "4",
            # gunicorn puts its control socket under $HOME; concurrent test runs must not share it
            "HOME": str(workdir),
        }
        migrate = subprocess.run([str(watchtime), "migrate"], env=env, capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr

        with_rabbitmq = rabbitmq_prometheus_available()
        stack = Stack(
            prometheus_url=f"http://127.0.0.1:{ports['prometheus']}",
            queue=queue,
            api_metrics=f"http://127.0.0.1:{ports['api_metrics']}/metrics",
            consumer_metrics=f"http://127.0.0.1:{ports['consumer_metrics']}/metrics",
            rabbitmq_metrics=(f"http://{RABBITMQ_PROMETHEUS}/metrics/detailed?"
                              + "&".join(f"family={family}" for family in RABBITMQ_FAMILIES))
            if with_rabbitmq else None,
        )

        def start(name: str, args: list[str], extra_env: dict[str, str]) -> None:
            log = workdir / f"{name}.log"
            stack.log_files.append(log)
            with log.open("wb") as out:
                # own session: stop() signals the whole process group (gunicorn master and workers)
                processes.append(subprocess.Popen(args, env={**env, **extra_env}, stdout=out,
                                                  stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir))

        start("api", [str(watchtime), "api", "--port", str(ports["api"])], {
            "WATCHTIME_METRICS_PORT": str(ports["api_metrics"]),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "api-multiproc"),
        })
        start("consumer", [str(watchtime), "consumer"], {"WATCHTIME_METRICS_PORT": str(ports["consumer_metrics"])})
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(ports, with_rabbitmq)))
        start("prometheus", [
            prometheus_tools["prometheus"], f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        ], {})

        api = f"http://127.0.0.1:{ports['api']}"
        for what, url in (("API readiness", f"{api}/readyz"),
                          ("consumer readiness", f"http://127.0.0.1:{ports['consumer_metrics']}/readyz"),
                          ("Prometheus readiness", f"{stack.prometheus_url}/-/ready")):
            wait_until(lambda: http_ok(url), what, STARTUP_TIMEOUT, processes, stack.logs)
        expected_targets = 3 if with_rabbitmq else 2
        wait_until(lambda: stack.scalar("sum(up)") == expected_targets, "every scrape target up", STARTUP_TIMEOUT,
                   processes, stack.logs)

        stack.events_accepted = drive_load(api, api_key, queue)
        # The pipeline is done once Prometheus has scraped every event applied and the poison message dead-lettered.
        wait_until(
            lambda: stack.scalar('sum(watchtime_events_processed_total{outcome=~"applied|duplicate"})')
            >= stack.events_accepted
            and stack.scalar('sum(watchtime_events_processed_total{outcome="dead_lettered"})') >= 1,
            "the consumer to process the load", STARTUP_TIMEOUT, processes, stack.logs)
        # A few more scrapes (and rule evaluations) so rates see the increase from two sides.
        time.sleep(3)
        yield stack
    finally:
        for process in reversed(processes):
            stop(process)
        cleanup_queues(queue)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def cleanup_queues(queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = connection.channel()
        channel.queue_delete(queue)
        channel.queue_delete(f"{queue}.dead-letter")
        channel.exchange_delete(f"{queue}.dlx")
    finally:
        connection.close()


# --- what the tests evaluate ---------------------------------------------------------------------------------------

def dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


def substitute(expr: str, queue: str) -> str:
    """Template variables as Grafana would expand them for this local setup ("All" for namespace and job)."""
    variables = {
        "$__rate_interval": "1m",
        "$namespace": ".*",
        "$job": f"({API_JOB}|{CONSUMER_JOB})",
        "$queue": queue,
        "$workload": ".*watchtime.*",
    }
    for name, value in variables.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted template variable in {expr}"
    return expr


def panel_targets():
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["refId"], target["expr"]


def alert_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def sample_names(url: str) -> set[str]:
    text = requests.get(url, timeout=10).text
    return {re.split(r"[{\s]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


# --- tests ------------------------------------------------------------------------------------------------------------

def test_every_panel_query_evaluates(stack):
    failures = []
    for title, ref, expr in panel_targets():
        response = requests.get(f"{stack.prometheus_url}/api/v1/query",
                                params={"query": substitute(expr, stack.queue)}, timeout=10)
        if response.status_code != 200 or response.json().get("status") != "success":
            failures.append(f"{title} [{ref}]: {response.text}")
    assert not failures, "\n".join(failures)


def finite_values(result: list[dict]) -> list[float]:
    values = [float(series["value"][1]) for series in result]
    return [value for value in values if math.isfinite(value)]


def test_panels_have_data_under_load(stack):
    must_have_data = set(PANELS_WITH_DATA_UNDER_LOAD)
    if stack.rabbitmq_metrics:
        must_have_data |= PANELS_WITH_DATA_FROM_RABBITMQ
    # A real number, not just a series: NaN lines (0/0, quantiles of no observations) draw nothing in Grafana.
    empty = [f"{title} [{ref}]: {expr}" for title, ref, expr in panel_targets()
             if title in must_have_data and not finite_values(stack.query(substitute(expr, stack.queue))["result"])]
    assert not empty, "panels without data under load:\n" + "\n".join(empty)


def test_role_scoped_panels_show_only_that_role(stack):
    # Every process exports every watchtime_* metric; panels joined on a role must not show the other one.
    targets = requests.get(f"{stack.prometheus_url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    instances = {target["labels"]["job"]: target["labels"]["instance"] for target in targets}
    other_role = {"api": CONSUMER_JOB, "consumer": API_JOB}
    checked = 0
    for title, ref, expr in panel_targets():
        roles = set(re.findall(r'role="(\w+)"', expr))
        if not roles:
            continue
        (role,) = roles
        foreign = {other_role[role], instances[other_role[role]]}
        for series in stack.query(substitute(expr, stack.queue))["result"]:
            labels = {series["metric"].get("job"), series["metric"].get("instance")}
            assert not labels & foreign, f"{title} [{ref}] shows the {other_role[role]} target: {series}"
        checked += 1
    assert checked


def test_kubernetes_only_panels_evaluate_empty_outside_kubernetes(stack):
    # Guards the classification: a panel that has local data belongs in a must-have-data class.
    for title, ref, expr in panel_targets():
        if title in PANELS_KUBERNETES_ONLY:
            assert stack.query(substitute(expr, stack.queue))["result"] == [], f"{title} [{ref}] has local data"


def test_template_variable_queries_resolve(stack):
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    resolved = {}
    for name in ("namespace", "job", "queue"):
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variables[name]["definition"])
        assert match, variables[name]["definition"]
        selector, label = match.groups()
        response = requests.get(f"{stack.prometheus_url}/api/v1/label/{label}/values",
                                params={"match[]": substitute(selector, stack.queue)}, timeout=10)
        assert response.json()["status"] == "success", response.text
        resolved[name] = response.json()["data"]
    assert resolved["namespace"] == []  # no Kubernetes here: "All" (.*) matches the missing label
    assert set(resolved["job"]) == {API_JOB, CONSUMER_JOB}
    if stack.rabbitmq_metrics:
        hide_dead_letter = re.compile(variables["queue"]["regex"].strip("/"))
        offered = [queue for queue in resolved["queue"] if hide_dead_letter.fullmatch(queue)]
        assert stack.queue in offered
        assert f"{stack.queue}.dead-letter" in resolved["queue"]
        assert f"{stack.queue}.dead-letter" not in offered


def test_every_alert_expression_evaluates(stack):
    for alert, expr in alert_expressions().items():
        stack.query(expr)  # fails on any error


def test_prometheus_evaluates_every_rule_without_error(stack):
    def rules():
        body = requests.get(f"{stack.prometheus_url}/api/v1/rules", timeout=10).json()
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    wait_until(lambda: all(rule["health"] != "unknown" for rule in rules()), "every rule evaluated", 10)
    loaded = rules()
    assert {rule["name"] for rule in loaded} == set(alert_expressions())
    broken = [f"{rule['name']}: {rule.get('lastError')}" for rule in loaded if rule["health"] != "ok"]
    assert not broken, "\n".join(broken)


def test_poison_message_activates_the_dead_letter_alerts_and_nothing_else(stack):
    def active() -> dict[str, str]:
        body = requests.get(f"{stack.prometheus_url}/api/v1/alerts", timeout=10).json()
        # The broker is shared: alerts about other queues on it are not this service's.
        ours = [alert for alert in body["data"]["alerts"]
                if alert["labels"].get("queue", stack.queue).startswith(stack.queue)]
        return {alert["labels"]["alertname"]: alert["state"] for alert in ours}

    expected = {"WatchtimeEventsDeadLettered": "firing"}
    if stack.rabbitmq_metrics:  # the poison message now sits in <queue>.dead-letter; that alert waits 30m to fire
        expected["WatchtimeDeadLetterQueueNotEmpty"] = "pending"
    deadline = time.monotonic() + 10  # a few rule evaluations
    while active() != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert active() == expected


def test_dashboard_and_rules_name_only_exported_metrics(stack):
    exported = sample_names(stack.api_metrics) | sample_names(stack.consumer_metrics)
    texts = [expr for _, _, expr in panel_targets()] + list(alert_expressions().values())
    texts += [variable.get("definition", "") for variable in dashboard()["templating"]["list"]]
    named = {name for text in texts for name in re.findall(r"\b((?:watchtime|django_http)_\w+)", text)}
    assert named, "no service metric found in the dashboard and rules"
    assert not named - exported, f"named but not exported by the service: {sorted(named - exported)}"
    if stack.rabbitmq_metrics:
        rabbitmq_named = {name for text in texts for name in re.findall(r"\b(rabbitmq_detailed_\w+)", text)}
        rabbitmq_exported = sample_names(stack.rabbitmq_metrics)
        assert not rabbitmq_named - rabbitmq_exported, sorted(rabbitmq_named - rabbitmq_exported)


def test_service_exports_every_contract_metric(stack):
    api, consumer = sample_names(stack.api_metrics), sample_names(stack.consumer_metrics)
    contract_api = {"watchtime_events_ingested_total", "watchtime_ingest_rejected_total",
                    "watchtime_publish_seconds_bucket", "watchtime_build_info",
                    "django_http_requests_latency_seconds_by_view_method_bucket",
                    "django_http_responses_total_by_status_view_method_total"}
    contract_consumer = {"watchtime_events_processed_total", "watchtime_total_computation_seconds_bucket",
                         "watchtime_event_lag_seconds_bucket", "watchtime_batch_size_bucket",
                         "watchtime_consumer_last_batch_timestamp_seconds", "watchtime_consumer_ready",
                         "watchtime_build_info"}
    assert not contract_api - api, f"API /metrics lacks {sorted(contract_api - api)}"
    assert not contract_consumer - consumer, f"consumer /metrics lacks {sorted(contract_consumer - consumer)}"
