"""Broker scraping and the queue the alerts watch.

The Queue row of the dashboard and the queue alerts read RabbitMQ's own per-queue series
(rabbitmq_prometheus, /metrics/detailed), so the chart scrapes the broker next to the api and
consumer; and the PrometheusRule names the configured queue (config.queue = WATCHTIME_QUEUE)
instead of the rule file's default `watch-time`, checked with the real promtool.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from chartlib import CHART_DIR, NAMESPACE, RELEASE, Rendered, load_value_set, render, render_value_set

FULLNAME = f"{RELEASE}-watchtime"
DETAILED_FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"]
SERVICE_MONITOR = {"metrics": {"serviceMonitor": {"enabled": True}}}
POD_MONITOR = {"metrics": {"podMonitor": {"enabled": True}}}

# The broker's objects as their makers document them. Neither can be rendered here: the CloudPirates
# subchart is an OCI dependency that cannot be fetched offline, and the operator creates its objects
# at runtime. So the monitors are checked against these facts (Service/port names from
# /work/shared/reference/dependencies.md; labels from the makers' sources, cited per function).


def cloudpirates_rabbitmq(release: str, values: dict[str, Any]) -> dict[str, Any]:
    """Service, headless Service and pod labels of the CloudPirates `rabbitmq` chart 0.21.x.

    templates/service.yaml: Service `<fullname>` labelled `rabbitmq.labels` (= `cloudpirates.labels`:
    helm.sh/chart, managed-by, version, plus `cloudpirates.selectorLabels`), ports `amqp` 5672,
    `mgmt` 15672 and, only with metrics.enabled, `prometheus` 15692 (targetPort `prometheus`).
    selectorLabels: app.kubernetes.io/name = chart name or nameOverride, app.kubernetes.io/instance =
    release, both overridable by the subchart's commonLabels. The StatefulSet's pods carry the
    selector labels and container port `prometheus`; its serviceName is `<fullname>-headless`, a
    Service with the same labels (assumed here to list the metrics port too, the worst case).
    """
    name = values.get("nameOverride") or "rabbitmq"
    if values.get("fullnameOverride"):
        fullname = values["fullnameOverride"]
    else:
        fullname = release if name in release else f"{release}-{name}"
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
    selector |= {k: v for k, v in values.get("commonLabels", {}).items() if k in selector}
    labels = {"helm.sh/chart": "rabbitmq-0.21.0", "app.kubernetes.io/managed-by": "Helm", **selector}
    ports = [{"name": "amqp", "port": 5672}, {"name": "mgmt", "port": 15672}]
    if values.get("metrics", {}).get("enabled"):
        ports.append({"name": "prometheus", "port": 15692})
    return {
        "services": {fullname: (labels, ports), f"{fullname}-headless": (labels, ports)},
        "service": fullname,
        "pod_labels": selector,
        "pod_ports": [port["name"] for port in ports] + ["epmd", "dist"],
    }


def operator_rabbitmq(cluster: dict[str, Any]) -> dict[str, Any]:
    """Services and pod labels the RabbitMQ Cluster Operator creates for a RabbitmqCluster.

    internal/metadata/label.go: app.kubernetes.io/name=<cluster>, app.kubernetes.io/component=rabbitmq,
    app.kubernetes.io/part-of=rabbitmq, plus the RabbitmqCluster's own labels except app.kubernetes.io/*.
    internal/resource/service.go: client Service `<cluster>` with `amqp` 5672, `management` 15672,
    `prometheus` 15692 (no TLS); headless_service.go: `<cluster>-nodes` with the same labels,
    `epmd` 4369 and `cluster-links` 25672. statefulset.go: container port `prometheus` 15692.
    """
    name = cluster["metadata"]["name"]
    labels = {k: v for k, v in cluster["metadata"]["labels"].items() if not k.startswith("app.kubernetes.io")}
    labels |= {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "rabbitmq",
        "app.kubernetes.io/part-of": "rabbitmq",
    }
    client_ports = [
        {"name": "amqp", "port": 5672},
        {"name": "management", "port": 15672},
        {"name": "prometheus", "port": 15692},
    ]
    headless_ports = [{"name": "epmd", "port": 4369}, {"name": "cluster-links", "port": 25672}]
    return {
        "services": {name: (labels, client_ports), f"{name}-nodes": (labels, headless_ports)},
        "service": name,
        "pod_labels": labels,
        "pod_ports": ["epmd", "amqp", "management", "prometheus"],
    }


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def scraped_services(monitor: dict[str, Any], broker: dict[str, Any]) -> set[str]:
    """Services a ServiceMonitor ends up scraping: selector, port name, then its keep relabelings."""
    (endpoint,) = monitor["spec"]["endpoints"]
    found = set()
    for name, (labels, ports) in broker["services"].items():
        if not matches(monitor["spec"]["selector"]["matchLabels"], labels):
            continue
        if endpoint["port"] not in {port["name"] for port in ports}:
            continue
        keeps = [r for r in endpoint.get("relabelings", []) if r["action"] == "keep"]
        if all(
            r["sourceLabels"] == ["__meta_kubernetes_service_name"] and re.fullmatch(r["regex"], name) for r in keeps
        ):
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
    assert "relabelings" not in endpoint, "pods are unique; nothing to deduplicate"
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


def test_default_queue_ships_the_rule_file_unchanged() -> None:
    rendered = render({"metrics": {"prometheusRule": {"enabled": True}}})
    shipped = yaml.safe_load(RULES_FILE.read_text())["groups"]
    assert rendered.get("PrometheusRule", FULLNAME)["spec"]["groups"] == shipped


def test_queue_alerts_name_the_configured_queue() -> None:
    rendered = render({"config": {"queue": "video.events"}, "metrics": {"prometheusRule": {"enabled": True}}})
    exprs = rule_exprs(rendered)
    assert {alert for alert, expr in exprs.items() if "rabbitmq_detailed_" in expr} == QUEUE_ALERTS
    for alert in QUEUE_ALERTS:
        # Regex-quoted: the dot of the name must not match any character.
        assert 'queue=~"video\\\\.events' in exprs[alert], exprs[alert]
        assert "watch-time" not in exprs[alert]
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
    rendered = render({"config": {"queue": queue}, "metrics": {"prometheusRule": {"enabled": True}}})
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
        labels = f'vhost="/", queue={promql_string(which)}'
        dead_letter = f'vhost="/", queue={promql_string(which + ".dead-letter")}'
        series += [
            {"series": f"rabbitmq_detailed_queue_consumers{{{labels}}}", "values": "0x30"},
            {"series": f"rabbitmq_detailed_queue_messages_ready{{{labels}}}", "values": "10+10x30"},
            {"series": f"rabbitmq_detailed_queue_messages{{{dead_letter}}}", "values": "3x30"},
        ]
    ours = f'{{vhost="/", queue={promql_string(queue)}}}'
    ours_dead_letter = f'{{vhost="/", queue={promql_string(queue + ".dead-letter")}}}'
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


def test_rule_file_drift_fails_the_render_instead_of_watching_the_wrong_queue(tmp_path: Path) -> None:
    """A queue matcher spelled otherwise could not take config.queue; the render must say so."""
    chart_copy = tmp_path / "watchtime"
    shutil.copytree(CHART_DIR, chart_copy)
    rules = chart_copy / "rules" / "watchtime-alerts.yaml"
    text = rules.read_text()
    drifted = text.replace(
        'rabbitmq_detailed_queue_messages{queue=~"watch-time.*',
        'rabbitmq_detailed_queue_messages{queue=~"(watch-time).*',
    )
    assert drifted != text
    rules.write_text(drifted)
    with pytest.raises(helm_python.HelmError, match="WatchtimeDeadLetterQueueNotEmpty"):
        helm_python.Chart.load(chart_copy).render(
            {"metrics": {"prometheusRule": {"enabled": True}}}, name=RELEASE, namespace=NAMESPACE
        )
