"""NetworkPolicies admit the traffic each mode needs, and nothing else.

Modes: API behind an Ingress, behind a Gateway (HTTPRoute), scraped by Prometheus, reading from a
replica. The release's pods are the rendered ones (labels, named ports; the maintenance CronJob's
included); the others stand where they do in a cluster: the
ingress controller in `ingress-nginx`, the Gateway's data plane in the namespace its parentRef
names, Prometheus in `monitoring`, CoreDNS in `kube-system`, NodeLocal DNSCache on its link-local
address, an external PostgreSQL and RabbitMQ on private addresses, and strangers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from chartlib import NAMESPACE, Rendered, load_value_set, pod_template, render
from lifecycle.network import Endpoint, address, admitted, pod
from lifecycle.shapes import merged

INGRESS = load_value_set("ingress-tls")
HTTPROUTE = {"httpRoute": {"enabled": True, "hostnames": ["watchtime.example.org"],
                           "parentRefs": [{"name": "public", "namespace": "gateway", "sectionName": "https"}]}}
MONITORING = {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}}
EXTERNAL = load_value_set("external")

INGRESS_CONTROLLER = pod("ingress-nginx-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
GATEWAY = pod("public-gateway", "gateway", {"gateway.networking.k8s.io/gateway-name": "public"})
PROMETHEUS = pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
COREDNS = pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53, "dns-tcp": 53})
NODE_LOCAL_DNS = address("node-local-dns", "169.254.20.10")
POSTGRES = address("postgres", "10.20.0.5")
RABBITMQ = address("rabbitmq", "10.20.0.6")
REPLICA = address("postgres-replica", "10.20.0.7")
INTERNET = address("internet", "93.184.216.34")
STRANGER = pod("stranger", "default", {"app": "stranger"})
NEIGHBOUR = pod("neighbour", NAMESPACE, {"app": "neighbour"})


def release_pods(release: Rendered) -> dict[str, Endpoint]:
    pods = {}
    for obj in release.objects:
        template = pod_template(obj)
        if template is None:
            continue
        labels = template["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])
                 if "name" in p}
        pods[labels["app.kubernetes.io/component"]] = pod(obj["metadata"]["name"], NAMESPACE, labels, ports)
    return pods


def policies(release: Rendered) -> list[dict]:
    return list(release.kinds("NetworkPolicy").values())


def check(release: Rendered, flows: list[tuple[Endpoint, Endpoint, int | str, str, bool]]) -> None:
    wrong = [
        f"{source.name} -> {destination.name}:{port}/{protocol}: {'blocked' if expected else 'admitted'}, "
        f"should be {'admitted' if expected else 'blocked'}"
        for source, destination, port, protocol, expected in flows
        if admitted(policies(release), source, destination, port, protocol) != expected
    ]
    assert not wrong, "\n".join(wrong)


def dialled_ports(release: Rendered) -> tuple[int, int]:
    """The database and broker ports the pods dial: those of the URLs in the release's ConfigMap."""
    config = next(c["data"] for c in release.kinds("ConfigMap").values() if "DATABASE_URL" in c.get("data", {}))
    return urlsplit(config["DATABASE_URL"]).port, urlsplit(config["RABBITMQ_URL"]).port


def common_flows(release: Rendered) -> list[tuple[Endpoint, Endpoint, int | str, str, bool]]:
    """What every mode needs (and forbids): DNS, database, broker (on the ports the pods dial),
    Prometheus on metrics, helm test; the maintenance pods reach DNS and the database only, and
    nothing reaches them."""
    pods = release_pods(release)
    database_port, broker_port = dialled_ports(release)
    api, consumer, migrate, test = pods["api"], pods["consumer"], pods["migrate"], pods["test"]
    maintenance = pods["maintenance"]
    flows = []
    for client in (api, consumer, migrate, test, maintenance):
        flows += [
            (client, COREDNS, 53, "UDP", True),
            (client, COREDNS, 53, "TCP", True),
            (client, NODE_LOCAL_DNS, 53, "UDP", True),
            (client, NODE_LOCAL_DNS, 53, "TCP", True),
            (client, INTERNET, 443, "TCP", False),
            (client, INTERNET, 53, "UDP", False),
        ]
    for client in (api, consumer, migrate, maintenance):
        flows.append((client, POSTGRES, database_port, "TCP", True))
    for client in (api, consumer):
        flows.append((client, RABBITMQ, broker_port, "TCP", True))
    flows += [
        (test, api, "http", "TCP", True),
        (STRANGER, api, "http", "TCP", False),
        (STRANGER, consumer, "metrics", "TCP", False),
        (NEIGHBOUR, api, "http", "TCP", False),
        (NEIGHBOUR, consumer, "metrics", "TCP", False),
        (INGRESS_CONTROLLER, api, "metrics", "TCP", False),
        (INGRESS_CONTROLLER, consumer, "metrics", "TCP", False),
        (GATEWAY, consumer, "metrics", "TCP", False),
        (PROMETHEUS, api, "metrics", "TCP", True),
        (PROMETHEUS, consumer, "metrics", "TCP", True),
        (PROMETHEUS, api, "http", "TCP", False),
        (PROMETHEUS, migrate, 8000, "TCP", False),
        (api, consumer, "metrics", "TCP", False),
        (maintenance, RABBITMQ, broker_port, "TCP", False),
        (maintenance, api, "http", "TCP", False),
        (PROMETHEUS, maintenance, 9100, "TCP", False),
        (NEIGHBOUR, maintenance, 8000, "TCP", False),
        (api, maintenance, 8000, "TCP", False),
    ]
    return flows


def test_behind_an_ingress() -> None:
    release = render(merged(EXTERNAL, INGRESS))
    pods = release_pods(release)
    check(release, common_flows(release) + [
        (INGRESS_CONTROLLER, pods["api"], "http", "TCP", True),
        (GATEWAY, pods["api"], "http", "TCP", False),
    ])


def test_behind_a_gateway() -> None:
    """The Gateway's data plane runs in its own namespace (Istio, NGINX Gateway Fabric: the Gateway's)."""
    release = render(merged(EXTERNAL, HTTPROUTE))
    pods = release_pods(release)
    elsewhere = pod("other-gateway", "other-team", {"gateway.networking.k8s.io/gateway-name": "public"})
    check(release, common_flows(release) + [
        (GATEWAY, pods["api"], "http", "TCP", True),
        (elsewhere, pods["api"], "http", "TCP", False),
    ])


def test_gateway_data_plane_elsewhere_is_configurable() -> None:
    """Envoy Gateway runs its proxies in envoy-gateway-system, not in the Gateway's namespace."""
    envoy = pod("envoy-public", "envoy-gateway-system", {"app.kubernetes.io/name": "envoy"})
    values = merged(EXTERNAL, HTTPROUTE, {"networkPolicy": {
        "gatewayNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}},
        "gatewayPodSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy"}}}})
    release = render(values)
    pods = release_pods(release)
    check(release, [
        (envoy, pods["api"], "http", "TCP", True),
        (pod("not-envoy", "envoy-gateway-system", {"app": "x"}), pods["api"], "http", "TCP", False),
        (GATEWAY, pods["api"], "http", "TCP", False),
    ])


@pytest.mark.parametrize("value_set", ["defaults", "all-features", "operator"])
def test_scraped_by_prometheus(value_set: str) -> None:
    release = render(merged(load_value_set(value_set), MONITORING))
    pods = release_pods(release)
    flows = common_flows(release)
    if value_set == "defaults":  # the subcharts' pods in the release namespace
        postgres = pod("wt-postgres-0", NAMESPACE, {"app.kubernetes.io/name": "postgres"}, {"postgresql": 5432})
        rabbitmq = pod("wt-rabbitmq-0", NAMESPACE, {"app.kubernetes.io/name": "rabbitmq"}, {"amqp": 5672, "prometheus": 15692})
        flows += [(pods["api"], postgres, 5432, "TCP", True), (pods["consumer"], rabbitmq, 5672, "TCP", True),
                  (PROMETHEUS, rabbitmq, "prometheus", "TCP", True)]
    check(release, flows)


def test_the_egress_follows_the_ports_the_pods_dial() -> None:
    """A database on 5433 (the operator value set) is reached on 5433, not on a separate default;
    networkPolicy.databasePort/rabbitmqPort replace them when a Service maps another targetPort."""
    release = render(merged(load_value_set("operator"), {"externalDatabase": {"readHost": "pg-ro"}}))
    assert dialled_ports(release) == (5433, 5672)
    pods = release_pods(release)
    check(release, common_flows(release) + [
        (pods["api"], REPLICA, 5433, "TCP", True),
        (pods["consumer"], POSTGRES, 5432, "TCP", False),
    ])
    mapped = render(merged(EXTERNAL, {"networkPolicy": {"databasePort": 15432, "rabbitmqPort": 15672}}))
    pods = release_pods(mapped)
    check(mapped, [
        (pods["consumer"], POSTGRES, 15432, "TCP", True),
        (pods["consumer"], RABBITMQ, 15672, "TCP", True),
        (pods["maintenance"], POSTGRES, 15432, "TCP", True),
        (pods["consumer"], POSTGRES, 5432, "TCP", False),
        (pods["consumer"], RABBITMQ, 5672, "TCP", False),
    ])


REPLICA_VALUES = {"externalDatabase": {"readHost": "pg-ro", "readPort": 6432}}


def test_only_the_api_reaches_the_read_replica_on_its_own_port() -> None:
    release = render(merged(EXTERNAL, INGRESS, REPLICA_VALUES))
    pods = release_pods(release)
    check(release, common_flows(release) + [
        (pods["api"], REPLICA, 6432, "TCP", True),
        (pods["consumer"], REPLICA, 6432, "TCP", False),
        (pods["maintenance"], REPLICA, 6432, "TCP", False),
        (pods["migrate"], REPLICA, 6432, "TCP", False),
    ])
    without = render(merged(EXTERNAL, INGRESS))
    check(without, [(release_pods(without)["api"], REPLICA, 6432, "TCP", False)])


def test_database_destinations_restrict_the_replica_and_the_maintenance_too() -> None:
    """networkPolicy.egressTo names where the data services are: the replica on the primary's port,
    and the maintenance's database egress, go only there."""
    inside = {"networkPolicy": {"egressTo": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]}}
    release = render(merged(EXTERNAL, INGRESS, {"externalDatabase": {"readHost": "pg-ro"}}, inside))
    pods = release_pods(release)
    elsewhere = address("other-postgres", "192.168.1.5")
    check(release, common_flows(release) + [
        (pods["api"], REPLICA, 5432, "TCP", True),
        (pods["api"], elsewhere, 5432, "TCP", False),
        (pods["maintenance"], elsewhere, 5432, "TCP", False),
        (pods["consumer"], elsewhere, 5672, "TCP", False),
    ])


def test_no_maintenance_policy_without_the_cronjob() -> None:
    release = render(merged(EXTERNAL, {"maintenance": {"enabled": False}}))
    assert "maintenance" not in release_pods(release)
    assert all("maintenance" not in name for name in release.kinds("NetworkPolicy"))


def test_no_policies_without_the_switch() -> None:
    release = render({"networkPolicy": {"enabled": False}})
    assert policies(release) == []
    pods = release_pods(release)
    assert admitted([], STRANGER, pods["api"], "http")


# --- the model itself ------------------------------------------------------------------------------------------------

def test_the_model_isolates_only_selected_pods_and_needs_both_directions() -> None:
    web = pod("web", "a", {"app": "web"}, {"http": 80})
    client = pod("client", "b", {"app": "client"})
    deny_ingress = {"metadata": {"namespace": "a"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                                                            "policyTypes": ["Ingress"]}}
    allow_b = {"metadata": {"namespace": "a"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}],
         "ports": [{"port": "http"}]}]}}
    deny_egress = {"metadata": {"namespace": "b"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    assert admitted([], client, web, "http")
    assert not admitted([deny_ingress], client, web, "http")
    assert admitted([deny_ingress, allow_b], client, web, "http")
    assert not admitted([deny_ingress, allow_b], client, web, 8080)
    assert not admitted([allow_b, deny_egress], client, web, "http")
    assert not admitted([allow_b], pod("c2", "c", {}), web, "http")
