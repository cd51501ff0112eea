"""Every rendered object against the Kubernetes JSON schemas (strict), plus helm lint --strict.

kubernetes-validate ships schemas of built-in kinds only. The custom resources the chart renders
(ServiceMonitor, PodMonitor, PrometheusRule, ScaledObject, TriggerAuthentication, HTTPRoute,
RabbitmqCluster) are checked structurally against the fields their CRDs define that we use.
"""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest
from chartlib import CHART_DIR, Rendered, render_value_set
from kubernetes_validate.utils import major_minor

OLDEST_SUPPORTED = "1.28"  # Chart.yaml kubeVersion >=1.28.0-0
NEWEST = major_minor(kubernetes_validate.latest_version())

CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
}


def test_chart_kube_version_matches_the_oldest_validated_version() -> None:
    metadata = helm_python.Chart.load(CHART_DIR).metadata
    assert metadata["kubeVersion"] == f">={OLDEST_SUPPORTED}.0-0"
    assert metadata["apiVersion"] == "v2"
    assert metadata["appVersion"]


@pytest.mark.parametrize("kube_version", [OLDEST_SUPPORTED, NEWEST])
def test_builtin_objects_validate_strictly(rendered: Rendered, kube_version: str) -> None:
    failures = []
    for obj in rendered.objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
    assert not failures, "\n".join(failures)


def test_only_known_custom_resources_are_rendered(rendered: Rendered) -> None:
    for obj in rendered.objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in CUSTOM_RESOURCES:
            continue
        # Raises SchemaNotFoundError for an unknown kind, which would escape validation.
        kubernetes_validate.validate(obj, NEWEST, strict=True)


def _check_fields(obj: dict[str, Any], allowed: dict[str, Any], where: str) -> list[str]:
    """Keys of obj must be in allowed; nested dict specs recurse, `list` specs check item keys."""
    problems = []
    for key, value in obj.items():
        if key not in allowed:
            problems.append(f"{where}.{key} is not a field of the CRD")
            continue
        spec = allowed[key]
        if isinstance(spec, dict) and spec:
            if not isinstance(value, dict):
                problems.append(f"{where}.{key} must be an object")
            else:
                problems.extend(_check_fields(value, spec, f"{where}.{key}"))
        elif isinstance(spec, list) and spec:
            if not isinstance(value, list):
                problems.append(f"{where}.{key} must be a list")
            else:
                for index, item in enumerate(value):
                    problems.extend(_check_fields(item, spec[0], f"{where}.{key}[{index}]"))
        elif spec is str and not isinstance(value, str):
            problems.append(f"{where}.{key} must be a string")
        elif spec is int and not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append(f"{where}.{key} must be an integer")
    return problems


SELECTOR = {"matchLabels": {}, "matchExpressions": []}
METADATA = {"name": str, "namespace": str, "labels": {}, "annotations": {}}
RELABELING = {"sourceLabels": [], "regex": str, "action": str, "targetLabel": str, "replacement": str}
CRD_FIELDS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "selector": SELECTOR,
        "namespaceSelector": {"matchNames": []},
        "endpoints": [
            {"port": str, "path": str, "params": {}, "interval": str, "scrapeTimeout": str, "relabelings": [RELABELING]}
        ],
    },
    "PodMonitor": {
        "selector": SELECTOR,
        "namespaceSelector": {"matchNames": []},
        "podMetricsEndpoints": [
            {"port": str, "path": str, "params": {}, "interval": str, "scrapeTimeout": str, "relabelings": [RELABELING]}
        ],
    },
    "PrometheusRule": {"groups": [{"name": str, "interval": str, "rules": []}]},
    "ScaledObject": {
        "scaleTargetRef": {"apiVersion": str, "kind": str, "name": str},
        "minReplicaCount": int,
        "maxReplicaCount": int,
        "pollingInterval": int,
        "cooldownPeriod": int,
        "triggers": [{"type": str, "metadata": {}, "authenticationRef": {"name": str}}],
    },
    "TriggerAuthentication": {"secretTargetRef": [{"parameter": str, "name": str, "key": str}]},
    "HTTPRoute": {
        "parentRefs": [{"name": str, "namespace": str, "sectionName": str, "group": str, "kind": str, "port": int}],
        "hostnames": [],
        "rules": [{"matches": [], "backendRefs": [{"name": str, "port": int}]}],
    },
    "RabbitmqCluster": {
        "replicas": int,
        "resources": {},
        "persistence": {"storage": str, "storageClassName": str},
        "rabbitmq": {"additionalConfig": str, "additionalPlugins": []},
    },
}
KEDA_RABBITMQ_METADATA = {"protocol", "mode", "queueName", "value", "activationValue", "vhostName"}
KEDA_RABBITMQ_PARAMETERS = {"host", "username", "password", "vhostName"}


def test_custom_resources_are_structurally_valid(rendered: Rendered) -> None:
    problems = []
    for obj in rendered.objects:
        if (obj["apiVersion"], obj["kind"]) not in CUSTOM_RESOURCES:
            continue
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        problems += _check_fields(obj, {"apiVersion": str, "kind": str, "metadata": METADATA, "spec": {}}, where)
        problems += _check_fields(obj["metadata"], METADATA, f"{where}.metadata")
        problems += _check_fields(obj["spec"], CRD_FIELDS[obj["kind"]], f"{where}.spec")
        if obj["kind"] == "ScaledObject":
            for trigger in obj["spec"]["triggers"]:
                unknown = set(trigger["metadata"]) - KEDA_RABBITMQ_METADATA
                problems += [f"{where}: unknown rabbitmq trigger metadata {sorted(unknown)}"] if unknown else []
                values = trigger["metadata"]
                if not all(isinstance(value, str) for value in values.values()):
                    problems.append(f"{where}: KEDA trigger metadata values must be strings")
        if obj["kind"] == "TriggerAuthentication":
            parameters = {ref["parameter"] for ref in obj["spec"]["secretTargetRef"]}
            if not parameters <= KEDA_RABBITMQ_PARAMETERS:
                problems.append(f"{where}: unknown parameters {sorted(parameters - KEDA_RABBITMQ_PARAMETERS)}")
        if obj["kind"] == "PrometheusRule":
            for group in obj["spec"]["groups"]:
                for rule in group["rules"]:
                    if not ("alert" in rule) ^ ("record" in rule) or not rule.get("expr"):
                        problems.append(f"{where}: rule needs exactly one of alert/record, and expr: {rule}")
    assert not problems, "\n".join(problems)


def test_custom_resources_of_the_full_matrix_are_covered() -> None:
    kinds = {
        (obj["apiVersion"], obj["kind"])
        for name in ("all-features", "keda", "operator")
        for obj in render_value_set(name).objects
    }
    podmonitor = {("monitoring.coreos.com/v1", "PodMonitor")}
    assert CUSTOM_RESOURCES - podmonitor <= kinds  # PodMonitors: test_chart_render, test_chart_monitoring


OFFLINE_LINT_FINDING = "chart directory is missing these dependencies: postgres,rabbitmq"


@pytest.mark.parametrize("kube_version", [f"v{OLDEST_SUPPORTED}.0", f"v{NEWEST}.0"])
@pytest.mark.parametrize("value_set", ["defaults", "all-features"])
def test_helm_lint_strict(value_set: str, kube_version: str) -> None:
    """helm lint --strict: clean apart from the OCI subcharts, which cannot be fetched offline."""
    report = helm_python.lint(
        CHART_DIR, render_value_set(value_set).values, strict=True, kube_version=kube_version, namespace="prod"
    )
    findings = [m["error"] for m in report["messages"] if m["severity"] >= 2]
    assert findings == [OFFLINE_LINT_FINDING], report
    assert report["errors"] == [OFFLINE_LINT_FINDING], report
