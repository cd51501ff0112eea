"""Which alerts fire, evaluated by the real promtool, in given states of one or more releases.

A state is the series Prometheus would hold: what the service, the broker's rabbitmq_prometheus plugin
and kube-state-metrics export in that state, under the labels Prometheus gives them when it scrapes the
targets the chart's monitors select (Prometheus Operator: a ServiceMonitor's job is the Service's name,
a PodMonitor's `<namespace>/<name>`; then namespace, service, pod, container, endpoint, instance; then
the monitor's relabelings). promtool evaluates each release's rendered PrometheusRule over them minute
by minute, and the test names the alerts that must be firing at the end: every other alert is silent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .inventory import cloudpirates_rabbitmq, operator_rabbitmq

MINUTES = 80  # each state lasts this long (longer than the longest `for:`, 1h); alerts are read at its end
HOUR = 3600
KSM = {"job": "kube-state-metrics", "instance": "10.9.0.2:8080"}  # kube-state-metrics' own target


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: apt-get install prometheus (Debian ships promtool in it)")
    return found


def relabel(labels: dict[str, str], meta: dict[str, str], relabelings: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus relabeling (replace, keep, drop) of a target's labels; None when the target is dropped."""
    current = {**meta, **labels}
    for config in relabelings:
        source = ";".join(current.get(name, "") for name in config.get("sourceLabels", []))
        match = re.fullmatch(config.get("regex", "(.*)"), source)
        action = config.get("action", "replace")
        if action == "keep" and not match or action == "drop" and match:
            return None
        if action == "replace" and match:
            replacement = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", config.get("replacement", "$1"))
            current[config["targetLabel"]] = match.expand(replacement)
    return {key: value for key, value in current.items() if not key.startswith("__")}


def target(monitor: dict[str, Any], *, namespace: str, pod: str, pod_labels: dict[str, str], container: str,
           port: str, ip: str, service: str | None) -> dict[str, str] | None:
    """The labels of one scraped target (a pod's port, through a Service for a ServiceMonitor)."""
    endpoints = monitor["spec"].get("endpoints") or monitor["spec"]["podMetricsEndpoints"]
    (endpoint,) = endpoints
    labels = {"namespace": namespace, "pod": pod, "container": container, "endpoint": port, "instance": f"{ip}:9100"}
    meta = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": pod}
    meta |= {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in pod_labels.items()}
    if monitor["kind"] == "ServiceMonitor":
        labels |= {"job": service, "service": service}
        meta["__meta_kubernetes_service_name"] = service
    else:
        labels["job"] = f"{monitor['metadata']['namespace']}/{monitor['metadata']['name']}"
    return relabel(labels, meta, endpoint.get("relabelings", []))


class State:
    """The input series of one promtool test."""

    def __init__(self) -> None:
        self.series: list[dict[str, str]] = []

    def add(self, metric: str, labels: dict[str, str], values: str) -> None:
        body = ", ".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        self.series.append({"series": f"{metric}{{{body}}}", "values": values})


def constant(value: float, minutes: int = MINUTES) -> str:
    return f"{value}x{minutes}"


def counter(per_minute: float, minutes: int = MINUTES) -> str:
    return f"0+{per_minute}x{minutes}"


def until(value: float, minute: int) -> str:
    """Scraped until `minute`, then gone (the target was removed: stale at once)."""
    return f"{value}x{minute} stale"


def every(period: int, up: str, down: str, minutes: int = MINUTES) -> str:
    """One sample `up` every `period` minutes, `down` in between (a container that keeps restarting)."""
    return " ".join(up if minute % period == 0 else down for minute in range(minutes + 1))


def monitor_of(release, name_suffix: str = "") -> dict[str, Any]:
    for kind in ("ServiceMonitor", "PodMonitor"):
        for name, monitor in release.kinds(kind).items():
            if name.endswith("-broker") == (name_suffix == "-broker"):
                return monitor
    raise AssertionError(f"no {name_suffix or 'app'} monitor rendered")


def broker_pod(release) -> tuple[str, dict[str, str], str]:
    """(pod name, pod labels, client Service) of the in-cluster broker's first node."""
    clusters = release.kinds("RabbitmqCluster")
    if clusters:
        cluster = next(iter(clusters.values()))
        facts = operator_rabbitmq(cluster)
        return f"{cluster['metadata']['name']}-server-0", facts["pod_labels"], facts["service"]
    facts = cloudpirates_rabbitmq(release.name, {**release.values.get("rabbitmq", {}), "metrics": {"enabled": True}})
    return f"{facts['service']}-0", facts["pod_labels"], facts["service"]


def hourly_minute(schedule: str) -> int:
    """The minute of an hourly cron schedule (`M * * * *`), the only kind this model runs."""
    fields = schedule.split()
    assert len(fields) == 5 and fields[0].isdigit() and fields[1:] == ["*"] * 4, f"not an hourly schedule: {schedule}"
    return int(fields[0])


def add_maintenance(result: State, release, mode: str) -> None:
    """kube-state-metrics' series of the release's maintenance CronJob and of the Jobs it created.

    Times are unix seconds on promtool's clock (0 = the state's start); the CronJob exists since a day
    before. Runs start at the schedule's minute of every hour and take 2 minutes.
    healthy: every run succeeds. failed: the last run before the state succeeded, every run since fails
      (after its retries, 3 minutes in). unscheduled: the controller stopped creating runs 4 hours before
      the state, after a success.
    """
    cronjobs = release.kinds("CronJob")
    if not cronjobs:
        return
    ((name, cronjob),) = cronjobs.items()
    namespace = release.namespace
    labels = KSM | {"namespace": namespace, "cronjob": name}
    minute = hourly_minute(cronjob["spec"]["schedule"])
    first = (minute - 60) * 60  # the run before the state starts
    runs = [first + n * HOUR for n in range(MINUTES // 60 + 2) if first + n * HOUR <= MINUTES * 60]
    if mode == "unscheduled":
        runs = [first - 4 * HOUR]
    samples: dict[str, list[float | None]] = {"last_schedule": [], "next": [], "last_success": []}
    for at in range(0, MINUTES * 60 + 1, 60):
        started = [run for run in runs if run <= at]
        succeeded = [run + 120 for run in runs if run + 120 <= at and (mode != "failed" or run < 0)]
        samples["last_schedule"].append(max(started))
        samples["next"].append(max(started) + HOUR)
        samples["last_success"].append(max(succeeded))
    result.add("kube_cronjob_created", labels, constant(-24 * HOUR))
    result.add("kube_cronjob_status_last_schedule_time", labels, " ".join(str(v) for v in samples["last_schedule"]))
    result.add("kube_cronjob_next_schedule_time", labels, " ".join(str(v) for v in samples["next"]))
    result.add("kube_cronjob_status_last_successful_time", labels, " ".join(str(v) for v in samples["last_success"]))
    for run in runs:
        job = KSM | {"namespace": namespace, "job_name": f"{name}-{29_000_000 + run // 60}"}
        fails = mode == "failed" and run >= 0
        values = []
        for at in range(0, MINUTES * 60 + 1, 60):
            values.append("_" if at < run else str(int(fails and at >= run + 180)))
        result.add("kube_job_status_start_time", job, " ".join(str(run) if v != "_" else v for v in values))
        result.add("kube_job_failed", job | {"condition": "true"}, " ".join(values))


def release_state(release, state: str, ip_prefix: str) -> State:
    """The series of one release in a named state.

    healthy: api and consumer scraped, events flow, the queue holds a few messages and two consumers;
      the maintenance CronJob runs every hour and succeeds; no analytics wait for the backfill.
    idle: no events since minute 2; KEDA scaled the consumer to zero at minute 5 (its pod and target
      went away) with analytics still waiting for its backfill; the queue is empty with no consumers.
    backlog: the consumer went away at minute 5 and nothing brought it back while events keep arriving:
      the queue grows with no consumers.
    crashloop: the consumer's container starts, runs about a minute and exits, every five minutes:
      scraped once per run, one broker consumer while it runs, CrashLoopBackOff in between; events keep
      arriving and the queue grows.
    upgraded: healthy, just after an upgrade: the consumers backfill the analytics in 30 minutes.
    backfill-stuck: healthy, but the analytics backfill does not finish (1000+ waiting throughout).
    maintenance-failed, maintenance-unscheduled: healthy, with the maintenance runs as add_maintenance says.
    """
    namespace = release.namespace
    result = State()
    add_maintenance(result, release, state.removeprefix("maintenance-") if state.startswith("maintenance-") else "healthy")
    backfill = {"upgraded": "1000x10 400x19 " + constant(0, MINUTES - 30), "backfill-stuck": constant(1000),
                "idle": until(300, 5)}.get(state, constant(0))
    if state in ("upgraded", "backfill-stuck") or state.startswith("maintenance-"):
        state = "healthy"
    app = monitor_of(release)
    pods = {}
    for component in ("api", "consumer"):
        deployment = release.workload(component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        pod = f"{deployment['metadata']['name']}-6d4cf56db6-{component[:3]}01"
        labels = target(app, namespace=namespace, pod=pod, pod_labels=pod_labels, container=component,
                        port="metrics", ip=f"{ip_prefix}.{1 if component == 'api' else 2}",
                        service=deployment["metadata"]["name"])
        assert labels is not None, f"the monitor does not scrape the {component}"
        pods[component] = (pod, labels)
    api_pod, api = pods["api"]
    consumer_pod, consumer = pods["consumer"]
    ingest = constant(5000) if state == "idle" else counter(600)
    idle_ingest = "0 600 1200 " + constant(1200, MINUTES - 3)

    # the API: present in every state
    result.add("watchtime_build_info", api | {"role": "api", "version": "0.1.0"}, constant(1))
    result.add("up", api, constant(1))
    result.add("watchtime_events_ingested_total", api, idle_ingest if state == "idle" else ingest)
    result.add("watchtime_ingest_rejected_total", api | {"reason": "broker_unavailable"}, constant(0))
    result.add("watchtime_consumer_ready", api, constant(0))  # every process exports the consumer gauges
    result.add("watchtime_analytics_backfill_pending", api, constant(0))
    for status, rate in (("202", 0 if state == "idle" else 60), ("500", 0)):
        result.add("django_http_responses_total_by_status_view_method_total",
                   api | {"status": status, "view": "ingest", "method": "POST"}, counter(rate))
    result.add("kube_pod_status_ready", KSM | {"namespace": namespace, "pod": api_pod, "condition": "true"}, constant(1))

    # the consumer
    consumer_pod_labels = KSM | {"namespace": namespace, "pod": consumer_pod}
    if state == "healthy":
        for metric, values in (("watchtime_build_info", constant(1)), ("up", constant(1)),
                               ("watchtime_consumer_ready", constant(1))):
            result.add(metric, consumer | ({"role": "consumer", "version": "0.1.0"} if metric.endswith("info") else {}),
                       values)
        result.add("watchtime_events_processed_total", consumer | {"outcome": "applied"}, counter(600))
        result.add("watchtime_events_processed_total", consumer | {"outcome": "dead_lettered"}, constant(0))
        result.add("watchtime_analytics_backfill_pending", consumer, backfill)
        for le in ("1", "+Inf"):
            result.add("watchtime_event_lag_seconds_bucket", consumer | {"le": le}, counter(600))
        result.add("kube_pod_status_ready", consumer_pod_labels | {"condition": "true"}, constant(1))
    elif state in ("idle", "backlog"):
        result.add("watchtime_build_info", consumer | {"role": "consumer", "version": "0.1.0"}, until(1, 5))
        result.add("up", consumer, until(1, 5))
        result.add("watchtime_consumer_ready", consumer, until(1, 5))
        result.add("watchtime_analytics_backfill_pending", consumer, backfill if state == "idle" else until(0, 5))
        result.add("watchtime_events_processed_total", consumer | {"outcome": "applied"}, "0+600x5 stale")
        result.add("kube_pod_status_ready", consumer_pod_labels | {"condition": "true"}, until(1, 5))
    elif state == "crashloop":
        result.add("watchtime_build_info", consumer | {"role": "consumer", "version": "0.1.0"}, every(5, "1", "stale"))
        result.add("up", consumer, every(5, "1", "0"))
        result.add("watchtime_consumer_ready", consumer, every(5, "0", "stale"))
        result.add("watchtime_analytics_backfill_pending", consumer, every(5, "0", "stale"))
        result.add("watchtime_events_processed_total", consumer | {"outcome": "applied"}, every(5, "0", "stale"))
        result.add("kube_pod_status_ready", consumer_pod_labels | {"condition": "true"}, constant(0))
        result.add("kube_pod_container_status_waiting_reason",
                   consumer_pod_labels | {"container": "consumer", "reason": "CrashLoopBackOff"}, every(5, "stale", "1"))
        result.add("kube_pod_container_status_restarts_total", consumer_pod_labels | {"container": "consumer"},
                   " ".join(str(minute // 5) for minute in range(MINUTES + 1)))
    else:
        raise ValueError(state)

    # the broker's view of the queue
    broker_name, broker_labels, service = broker_pod(release)
    broker = target(monitor_of(release, "-broker"), namespace=namespace, pod=broker_name, pod_labels=broker_labels,
                    container="rabbitmq", port="prometheus", ip=f"{ip_prefix}.9", service=service)
    assert broker is not None, "the broker monitor does not scrape the broker"
    queue = release.values.get("config", {}).get("queue", "watch-time")
    vhost = "/"
    consumers, ready = {
        "healthy": (constant(2), constant(3)),
        "idle": ("2x5 " + constant(0, MINUTES - 6), constant(0)),
        "backlog": ("2x5 " + constant(0, MINUTES - 6), "0x5 0+40x" + str(MINUTES - 6)),
        "crashloop": (every(5, "1", "0"), counter(40)),
    }[state]
    result.add("rabbitmq_detailed_queue_consumers", broker | {"vhost": vhost, "queue": queue}, consumers)
    result.add("rabbitmq_detailed_queue_messages_ready", broker | {"vhost": vhost, "queue": queue}, ready)
    result.add("rabbitmq_detailed_queue_messages", broker | {"vhost": vhost, "queue": f"{queue}.dead-letter"}, constant(0))
    return result


def expect_firing(releases: list, states: list[State], expected: set[tuple[str, str]], tmp_path: Path) -> None:
    """promtool evaluates every release's rules over the union of the states; at the end exactly the
    expected (alertname, watchtime_release) pairs fire."""
    rule_files = []
    for index, release in enumerate(releases):
        groups = release.get("PrometheusRule", next(iter(release.kinds("PrometheusRule"))))["spec"]["groups"]
        path = tmp_path / f"rules-{index}.yaml"
        path.write_text(yaml.safe_dump({"groups": groups}))
        rule_files.append(path.name)
    samples = [
        {"labels": f'{{alertname="{alert}", watchtime_release="{release}"}}', "value": 1}
        for alert, release in sorted(expected)
    ]
    test = {
        "rule_files": rule_files,
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [series for state in states for series in state.series],
            "promql_expr_test": [{
                "expr": 'group by (alertname, watchtime_release) (ALERTS{alertstate="firing"})',
                "eval_time": f"{MINUTES}m",
                "exp_samples": samples,
            }],
        }],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool(), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
