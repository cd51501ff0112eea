"""Broker scraping and the queue the alerts watch.

The Queue row of the dashboard and the queue alerts read RabbitMQ's own per-queue series
(rabbitmq_prometheus, /metrics/detailed), so the chart scrapes the broker next to the api and
consumer; and the PrometheusRule names the configured queue (config.queue = WATCHTIME_QUEUE)
instead of the rule file's default `watch-time`, checked with the real promtool.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from chartlib import CHART_DIR, NAMESPACE, RELEASE, Rendered, load_value_set, render, render_value_set
from lifecycle.alerts import relabel
from lifecycle.inventory import cloudpirates_rabbitmq, operator_rabbitmq
from lifecycle.shapes import merged

FULLNAME = f"{RELEASE}-watchtime"
DETAILED_FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"]
SERVICE_MONITOR = {"metrics": {"serviceMonitor": {"enabled": True}}}
MONITORED = {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}}
# The labels the broker monitor gives the broker's series (relabelled job).
BROKER_TARGET = f'namespace="{NAMESPACE}", job="{RELEASE}-watchtime-broker"'
POD_MONITOR = {"metrics": {"podMonitor": {"enabled": True}}}

def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def scraped_services(monitor: dict[str, Any], broker: dict[str, Any]) -> set[str]:
    """Services a ServiceMonitor ends up scraping: selector, port name, then its relabelings."""
    (endpoint,) = monitor["spec"]["endpoints"]
    found = set()
    for name, (labels, ports) in broker["services"].items():
        if not matches(monitor["spec"]["selector"]["matchLabels"], labels):
            continue
        if endpoint["port"] not in {port["name"] for port in ports}:
            continue
        if relabel({}, {"__meta_kubernetes_service_name": name}, endpoint.get("relabelings", [])) is not None:
            found.add(name)
    return found


def assert_detailed_endpoint(endpoint: dict[str, Any]) -> None:
    assert endpoint["port"] == "prometheus"
    assert endpoint["path"] == "/metrics/detailed"
    # rabbitmq_detailed_queue_messages{,_ready,_unacked} and rabbitmq_detailed_queue_consumers.
    assert endpoint["params"] == {"family": DETAILED_FAMILIES}


def broker_monitor(release: Rendered, kind: str) -> dict[str, Any]:
    monitor = release.get(kind, f"{FULLNAME}-broker")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    return monitor


@pytest.mark.parametrize(
    ("release", "subchart_values"),
    [
        pytest.param(RELEASE, {}, id="defaults"),
        pytest.param(RELEASE, {"nameOverride": "broker"}, id="nameOverride"),
        pytest.param(RELEASE, {"fullnameOverride": "mq"}, id="fullnameOverride"),
        pytest.param("rabbitmq-dev", {}, id="release-contains-chart-name"),
        pytest.param(RELEASE, {"commonLabels": {"app.kubernetes.io/name": "mq", "team": "video"}}, id="commonLabels"),
    ],
)
def test_service_monitor_scrapes_exactly_the_subchart_service(release: str, subchart_values: dict[str, Any]) -> None:
    rendered = render({**SERVICE_MONITOR, "rabbitmq": subchart_values}, release=release)
    broker = cloudpirates_rabbitmq(release, {**rendered.values["rabbitmq"], "metrics": {"enabled": True}})
    monitor = rendered.get("ServiceMonitor", f"{release}-watchtime-broker" if "watchtime" not in release else release)
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}, "the subchart's namespace"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert_detailed_endpoint(endpoint)
    assert endpoint["interval"] == "30s" and endpoint["scrapeTimeout"] == "10s"
    # Once per node, through the client Service only: the headless sibling would double every sum.
    assert scraped_services(monitor, broker) == {broker["service"]}
    # The broker the app talks to is the one scraped.
    config = rendered.get("ConfigMap", f"{release}-watchtime")["data"]
    assert config["RABBITMQ_URL"].startswith(f"amqp://{broker['service']}:5672/")


def test_the_subchart_exposes_its_metrics_port_by_default() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["rabbitmq"]["metrics"]["enabled"] is True
    assert values["metrics"]["broker"]["enabled"] is True
    with pytest.raises(helm_python.HelmError, match=r"rabbitmq\.metrics\.enabled"):
        render({**SERVICE_MONITOR, "rabbitmq": {"metrics": {"enabled": False}}})
    # Without the port there is nothing to scrape, and the broker monitor can be switched off.
    quiet = render(
        {
            **SERVICE_MONITOR,
            "rabbitmq": {"metrics": {"enabled": False}},
            "metrics": {**SERVICE_MONITOR["metrics"], "broker": {"enabled": False}},
        }
    )
    assert set(quiet.kinds("ServiceMonitor")) == {FULLNAME}


def test_pod_monitor_selects_the_subchart_pods_and_their_port() -> None:
    rendered = render(POD_MONITOR)
    broker = cloudpirates_rabbitmq(RELEASE, {"metrics": {"enabled": True}})
    monitor = broker_monitor(rendered, "PodMonitor")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert_detailed_endpoint(endpoint)
    assert matches(monitor["spec"]["selector"]["matchLabels"], broker["pod_labels"])
    assert endpoint["port"] in broker["pod_ports"]
    keeps = [r for r in endpoint.get("relabelings", []) if r.get("action", "replace") == "keep"]
    assert keeps == [], "pods are unique; nothing to deduplicate"
    assert "ServiceMonitor" not in rendered.by_kind


def test_monitors_scrape_the_rabbitmqcluster_of_the_chart() -> None:
    rendered = render_value_set("all-features")  # rabbitmqCluster + ServiceMonitor
    broker = operator_rabbitmq(rendered.get("RabbitmqCluster", f"{FULLNAME}-rabbitmq"))
    monitor = broker_monitor(rendered, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack", "picked up like the app's monitor"
    assert_detailed_endpoint(monitor["spec"]["endpoints"][0])
    assert scraped_services(monitor, broker) == {f"{FULLNAME}-rabbitmq"}
    pods = render({**load_value_set("operator"), **POD_MONITOR})
    pod_monitor = broker_monitor(pods, "PodMonitor")
    broker = operator_rabbitmq(pods.get("RabbitmqCluster", f"{FULLNAME}-rabbitmq"))
    assert matches(pod_monitor["spec"]["selector"]["matchLabels"], broker["pod_labels"])
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] in broker["pod_ports"]


def test_external_broker_is_scraped_only_on_request() -> None:
    external = load_value_set("external")
    assert "ServiceMonitor" not in render(external).by_kind
    assert set(render({**external, **SERVICE_MONITOR}).kinds("ServiceMonitor")) == {FULLNAME}
    selector = {"app.kubernetes.io/name": "mq", "app.kubernetes.io/component": "rabbitmq"}
    opted_in = {"enabled": True, "namespace": "messaging", "selector": selector}
    rendered = render({**external, "metrics": {"serviceMonitor": {"enabled": True}, "broker": {"external": opted_in}}})
    monitor = rendered.get("ServiceMonitor", f"{FULLNAME}-broker")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["messaging"]}
    assert monitor["spec"]["selector"] == {"matchLabels": selector}
    assert_detailed_endpoint(monitor["spec"]["endpoints"][0])
    # An operator-managed external cluster `mq`: its client Service is the only one with the port.
    mq = operator_rabbitmq({"metadata": {"name": "mq", "labels": {}}})
    assert scraped_services(monitor, mq) == {"mq"}
    with pytest.raises(helm_python.HelmError, match="needs metrics.broker.external.selector"):
        render(
            {**external, "metrics": {"serviceMonitor": {"enabled": True}, "broker": {"external": {"enabled": True}}}}
        )
    with pytest.raises(helm_python.HelmError, match="externalRabbitmq.host"):
        render({"metrics": {"serviceMonitor": {"enabled": True}, "broker": {"external": opted_in}}})


def test_no_monitor_without_the_prometheus_operator_switches(rendered: Rendered) -> None:
    monitors = rendered.values.get("metrics", {})
    wanted = any(monitors.get(kind, {}).get("enabled") for kind in ("serviceMonitor", "podMonitor"))
    broker = [obj for obj in rendered.objects if obj["metadata"]["name"] == f"{FULLNAME}-broker"]
    assert bool(broker) == (wanted and not rendered.values.get("externalRabbitmq", {}).get("host"))


def test_our_network_policies_do_not_stand_between_prometheus_and_the_broker() -> None:
    """Policies select pods; ours select only this release's watchtime pods, so the broker's port
    15692 stays open to Prometheus (the broker charts' own policies are theirs to configure)."""
    for name in ("defaults", "operator", "all-features"):
        rendered = render_value_set(name)
        if rendered.values.get("rabbitmqCluster", {}).get("enabled"):
            broker = operator_rabbitmq(rendered.get("RabbitmqCluster", f"{FULLNAME}-rabbitmq"))
        else:
            broker = cloudpirates_rabbitmq(RELEASE, {"metrics": {"enabled": True}})
        policies = rendered.kinds("NetworkPolicy")
        assert policies, name
        for policy in policies.values():
            selector = policy["spec"]["podSelector"]
            selected = matches(selector.get("matchLabels", {}), broker["pod_labels"]) and all(
                broker["pod_labels"].get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])
            )
            assert not selected, f"{name}: NetworkPolicy/{policy['metadata']['name']} selects the broker pods"


# --- The queue the alerts watch ------------------------------------------------------------------------------------

RULES_FILE = CHART_DIR / "rules" / "watchtime-alerts.yaml"
QUEUE_ALERTS = {"WatchtimeQueueWithoutConsumers", "WatchtimeConsumerStalled", "WatchtimeDeadLetterQueueNotEmpty"}


def rule_exprs(rendered: Rendered) -> dict[str, str]:
    rule = rendered.get("PrometheusRule", FULLNAME)
    return {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}


def promql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


PLAIN_SELECTORS = ('job="watchtime-', 'job=~"watchtime-', 'pod=~"watchtime-', 'job="rabbitmq"', 'queue=~"watch-time',
                   'cronjob="watchtime-', 'job_name=~"watchtime-')


def test_the_rule_file_ships_with_only_its_selectors_scoped_to_the_release() -> None:
    rendered = render(MONITORED)
    shipped = [r for group in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in group["rules"]]
    ours = [r for group in rendered.get("PrometheusRule", FULLNAME)["spec"]["groups"] for r in group["rules"]]
    assert [r["alert"] for r in ours] == [r["alert"] for r in shipped]
    for file_rule, rule in zip(shipped, ours, strict=True):
        assert rule["annotations"] == file_rule["annotations"]
        assert rule.get("for") == file_rule.get("for")
        assert rule["labels"] == file_rule["labels"] | {"watchtime_release": f"{NAMESPACE}/{RELEASE}"}
        assert not [s for s in PLAIN_SELECTORS if s in rule["expr"]], rule["expr"]
        assert f'namespace="{NAMESPACE}"' in rule["expr"], rule["alert"]


def test_queue_alerts_name_the_configured_queue() -> None:
    rendered = render(merged(MONITORED, {"config": {"queue": "video.events"}}))
    exprs = rule_exprs(rendered)
    assert {alert for alert, expr in exprs.items() if "rabbitmq_detailed_" in expr} == QUEUE_ALERTS
    for alert in QUEUE_ALERTS:
        # Matched exactly: neither a regex dot nor a prefix can reach another queue.
        assert 'queue="video.events' in exprs[alert], exprs[alert]
        assert "watch-time" not in exprs[alert]
        assert f'job="{FULLNAME}-broker"' in exprs[alert], "the broker monitor's job"
    # The consumer reads the same queue the alerts watch.
    assert rendered.get("ConfigMap", FULLNAME)["data"]["WATCHTIME_QUEUE"] == "video.events"


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: apt-get install prometheus (Debian ships promtool in it)")
    return found


@pytest.mark.parametrize("queue", ["video.events", 'odd "quoted" \\ name.v2'])
def test_promtool_evaluates_the_rendered_queue_alerts_for_the_configured_queue(queue: str, tmp_path: Path) -> None:
    """The rendered expressions are valid PromQL and select the configured queue (and its dead-letter
    queue), neither the default `watch-time` nor a look-alike that a bare regex dot would match."""
    rendered = render(merged(MONITORED, {"config": {"queue": queue}}))
    groups = rendered.get("PrometheusRule", FULLNAME)["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    check = subprocess.run(
        [promtool(), "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr

    exprs = rule_exprs(rendered)
    look_alike = queue.replace(".", "X")
    assert look_alike != queue
    queues = {"ours": queue, "look-alike": look_alike, "default": "watch-time"}
    series = []
    for which in queues.values():
        labels = f'{BROKER_TARGET}, vhost="/", queue={promql_string(which)}'
        dead_letter = f'{BROKER_TARGET}, vhost="/", queue={promql_string(which + ".dead-letter")}'
        series += [
            {"series": f"rabbitmq_detailed_queue_consumers{{{labels}}}", "values": "0x30"},
            {"series": f"rabbitmq_detailed_queue_messages_ready{{{labels}}}", "values": "10+10x30"},
            {"series": f"rabbitmq_detailed_queue_messages{{{dead_letter}}}", "values": "3x30"},
        ]
    ours = f'{{{BROKER_TARGET}, vhost="/", queue={promql_string(queue)}}}'
    ours_dead_letter = f'{{{BROKER_TARGET}, vhost="/", queue={promql_string(queue + ".dead-letter")}}}'
    tests = {
        "rule_files": [],
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    # Ready messages and no consumers: the sum of consumers (0) for our queue only.
                    {
                        "expr": exprs["WatchtimeQueueWithoutConsumers"],
                        "eval_time": "20m",
                        "exp_samples": [{"labels": ours, "value": 0}],
                    },
                    # Growing backlog, nothing processed: the ready count (10 + 10 x 20) of our queue only.
                    {
                        "expr": exprs["WatchtimeConsumerStalled"],
                        "eval_time": "20m",
                        "exp_samples": [{"labels": ours, "value": 210}],
                    },
                    {
                        "expr": exprs["WatchtimeDeadLetterQueueNotEmpty"],
                        "eval_time": "20m",
                        "exp_samples": [{"labels": ours_dead_letter, "value": 3}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("spelled", "respelled", "alert"), [
    ('rabbitmq_detailed_queue_messages{job="rabbitmq", vhost="/", queue=~"watch-time.*',
     'rabbitmq_detailed_queue_messages{queue=~"(watch-time).*', "WatchtimeDeadLetterQueueNotEmpty"),
    ('kube_cronjob_created{cronjob="watchtime-maintenance"}', 'kube_cronjob_created{cronjob=~"watchtime-maint.*"}',
     "WatchtimeMaintenanceFailed"),
])
def test_rule_file_drift_fails_the_render_instead_of_watching_another_release(
    spelled: str, respelled: str, alert: str, tmp_path: Path
) -> None:
    """A selector spelled otherwise could not take this release's; the render must say so."""
    chart_copy = tmp_path / "watchtime"
    shutil.copytree(CHART_DIR, chart_copy)
    rules = chart_copy / "rules" / "watchtime-alerts.yaml"
    text = rules.read_text()
    drifted = text.replace(spelled, respelled, 1)
    assert drifted != text
    rules.write_text(drifted)
    with pytest.raises(helm_python.HelmError, match=alert):
        helm_python.Chart.load(chart_copy).render(MONITORED, name=RELEASE, namespace=NAMESPACE)
