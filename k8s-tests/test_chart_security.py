"""Chart hardening: restricted Pod Security Standard on every pod, no mounted tokens, no default
passwords, and NetworkPolicies that admit only what each role needs."""

from __future__ import annotations

import re
from typing import Any

import yaml
from chartlib import CHART_DIR, RELEASE, Rendered, all_containers, pod_specs, pod_template, render

FULLNAME = f"{RELEASE}-watchtime"


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: Rendered) -> None:
    specs = pod_specs(rendered)
    assert len(specs) >= 5  # api, consumer, migrate, maintenance, helm test
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001 and pod["runAsGroup"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert "hostNetwork" not in spec and "hostPID" not in spec and "hostIPC" not in spec, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        for container in all_containers(spec):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, where
            assert context.get("privileged", False) is False, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], where


def test_service_account_does_not_mount_its_token(rendered: Rendered) -> None:
    account = rendered.get("ServiceAccount", FULLNAME)
    assert account["automountServiceAccountToken"] is False
    # The migrations hook has its own (pre-install runs before the release's exists), mounted neither.
    accounts = rendered.kinds("ServiceAccount")
    assert set(accounts) <= {FULLNAME, f"{FULLNAME}-migrate"}
    for name, spec in pod_specs(rendered):
        used = spec["serviceAccountName"]
        assert used == FULLNAME or (used == f"{FULLNAME}-migrate" and name.startswith("Job/")), name
        assert accounts[used]["automountServiceAccountToken"] is False, name


def test_no_default_passwords_in_values() -> None:
    def walk(node: Any, path: str = "") -> list[str]:
        found = []
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else key
                # `...Key` values name keys inside Secrets, they are not secrets themselves.
                sensitive = re.search(r"password|secret$|token|erlangCookie", key, re.IGNORECASE)
                if sensitive and not key.endswith("Key") and isinstance(value, str) and value:
                    found.append(child)
                found.extend(walk(value, child))
        return found

    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert walk(values) == []


def _policy(release: Rendered, name: str) -> dict[str, Any]:
    return release.get("NetworkPolicy", name)["spec"]


def test_network_policies_admit_only_what_each_role_needs(defaults: Rendered) -> None:
    api = _policy(defaults, f"{FULLNAME}-api")
    assert api["policyTypes"] == ["Ingress"]
    http_rule, metrics_rule = api["ingress"]
    assert http_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert http_rule["from"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics_rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    consumer = _policy(defaults, f"{FULLNAME}-consumer")
    assert consumer["ingress"] == [metrics_rule], "the consumer takes no traffic but scrapes"
    jobs = _policy(defaults, f"{FULLNAME}-jobs")
    assert jobs["policyTypes"] == ["Ingress"] and "ingress" not in jobs, "migrations and test pods: deny all"
    egress = _policy(defaults, f"{FULLNAME}-egress")
    assert egress["policyTypes"] == ["Egress"]
    assert _ports(egress) == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (5672, "TCP"), (8000, "TCP")}
    maintenance = _policy(defaults, f"{FULLNAME}-maintenance")
    assert maintenance["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in maintenance, "accepts nothing"
    assert _ports(maintenance) == {(53, "UDP"), (53, "TCP"), (5432, "TCP")}, "DNS and the database, no broker"
    # Every pod of the release is covered by an ingress policy and by exactly one egress policy.
    for obj in defaults.objects:
        template = pod_template(obj)
        if template is None:
            continue
        labels = template["metadata"]["labels"]
        selecting = {
            kind: [p["metadata"]["name"] for p in defaults.kinds("NetworkPolicy").values()
                   if kind in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)]
            for kind in ("Ingress", "Egress")
        }
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert selecting["Ingress"], f"{where} has no ingress policy"
        assert len(selecting["Egress"]) == 1, f"{where}: egress policies {selecting['Egress']}"


def _ports(policy: dict[str, Any]) -> set[tuple[int, str]]:
    return {(port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] in ("In", "NotIn"), expression
        if (labels.get(expression["key"]) in expression["values"]) != (expression["operator"] == "In"):
            return False
    return True


def test_only_the_api_policy_admits_the_read_replica() -> None:
    base = {"postgres": {"enabled": False}, "externalDatabase": {"host": "pg-rw", "existingSecret": "pg-app"}}
    assert "Egress" not in _policy(render(base), f"{FULLNAME}-api")["policyTypes"]
    replica = render({**base, "externalDatabase": {**base["externalDatabase"], "readHost": "pg-ro", "readPort": 6432}})
    api = _policy(replica, f"{FULLNAME}-api")
    assert api["policyTypes"] == ["Ingress", "Egress"]
    assert _ports(api) == {(6432, "TCP")}
    for name in ("consumer", "egress", "maintenance"):
        policy = _policy(replica, f"{FULLNAME}-{name}")
        assert (6432, "TCP") not in (_ports(policy) if "egress" in policy else set()), name


def test_network_policy_destinations_and_switch() -> None:
    restricted = render({"networkPolicy": {"egressTo": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}})
    for name in ("egress", "maintenance"):
        rules = _policy(restricted, f"{FULLNAME}-{name}")["egress"]
        data_rule = next(rule for rule in rules if {"port": 5432, "protocol": "TCP"} in rule["ports"])
        assert data_rule["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}], name
    assert "NetworkPolicy" not in render({"networkPolicy": {"enabled": False}}).by_kind
