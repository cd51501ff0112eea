"""What exists in the namespace, by kind and name, and the data keys of each Secret and ConfigMap.

Three sources besides the chart's own objects:
- user-provided objects: the ones the values name as existing (existingSecret, extraEnvVarsSecret,
  image.pullSecrets, ...). They exist before the install; their keys are the user's business, so
  any key is taken to exist.
- dependency objects: what the CloudPirates subcharts create in the same install
  (/work/shared/reference/dependencies.md): `<fullname>` Secrets and their keys.
- operator objects: what an operator creates from a custom resource the chart renders: the RabbitMQ
  Cluster Operator writes `<cluster>-default-user` once the RabbitmqCluster exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANY_KEY = None  # keys of an object whose content is not ours to know


@dataclass
class Inventory:
    """(kind, name) -> set of data keys, or ANY_KEY."""

    objects: dict[tuple[str, str], set[str] | None] = field(default_factory=dict)

    def add(self, kind: str, name: str, keys: set[str] | None = ANY_KEY) -> None:
        self.objects[(kind, name)] = None if keys is None else set(keys)

    def add_object(self, obj: dict[str, Any]) -> None:
        keys = ANY_KEY
        if obj["kind"] in ("Secret", "ConfigMap"):
            keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
        self.add(obj["kind"], obj["metadata"]["name"], keys)

    def remove(self, kind: str, name: str) -> None:
        self.objects.pop((kind, name), None)

    def copy(self) -> Inventory:
        return Inventory({key: None if keys is None else set(keys) for key, keys in self.objects.items()})

    def merged(self, other: Inventory) -> Inventory:
        result = self.copy()
        result.objects.update(other.copy().objects)
        return result

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self.objects

    def keys(self, kind: str, name: str) -> set[str] | None:
        return self.objects[(kind, name)]


def subchart_fullname(release: str, chart: str, values: dict[str, Any]) -> str:
    """The name a CloudPirates subchart gives its objects (the usual Helm fullname)."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") or chart
    fullname = release if name in release else f"{release}-{name}"
    return fullname[:63].rstrip("-")


def user_provided(values: dict[str, Any]) -> Inventory:
    """Objects the values declare as existing before the install (plus the namespace's `default` ServiceAccount)."""
    given = Inventory()
    given.add("ServiceAccount", "default")
    secret_values = [
        values.get("secretKey", {}).get("existingSecret"),
        values.get("bootstrapApiKey", {}).get("existingSecret") if values.get("bootstrapApiKey", {}).get("enabled") else "",
        values.get("extraEnvVarsSecret"),
        values.get("postgres", {}).get("customUser", {}).get("existingSecret"),
        values.get("rabbitmq", {}).get("auth", {}).get("existingSecret"),
    ]
    if values.get("externalDatabase", {}).get("host"):
        secret_values.append(values["externalDatabase"].get("existingSecret"))
    if values.get("externalRabbitmq", {}).get("host"):
        secret_values.append(values["externalRabbitmq"].get("existingSecret"))
    secret_values += values.get("image", {}).get("pullSecrets", [])
    for name in filter(None, secret_values):
        given.add("Secret", name)
    if values.get("extraEnvVarsConfigMap"):
        given.add("ConfigMap", values["extraEnvVarsConfigMap"])
    account = values.get("serviceAccount", {})
    if account.get("create") is False and account.get("name"):
        given.add("ServiceAccount", account["name"])
    for volume in values.get("extraVolumes", []):
        if "configMap" in volume:
            given.add("ConfigMap", volume["configMap"]["name"])
        if "secret" in volume:
            given.add("Secret", volume["secret"]["secretName"])
        if "persistentVolumeClaim" in volume:
            given.add("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    for entry in values.get("extraEnvVars", []) + [e for c in ("api", "consumer") for e in values.get(c, {}).get("extraEnvVars", [])]:
        for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if ref in entry.get("valueFrom", {}):
                given.add(kind, entry["valueFrom"][ref]["name"])
    return given


def dependency_objects(values: dict[str, Any], release: str) -> Inventory:
    """Secrets the enabled CloudPirates subcharts create in the same install (dependencies.md)."""
    created = Inventory()
    postgres = values.get("postgres", {"enabled": True})
    if postgres.get("enabled", True):
        name = subchart_fullname(release, "postgres", postgres)
        created.add("Secret", name, {"postgres-password", "host", "port", "username", "database", "uri"})
        if not postgres.get("customUser", {}).get("existingSecret"):
            created.add("Secret", f"{name}-custom-user-credentials", {"CUSTOM_USER", "CUSTOM_DB", "CUSTOM_PASSWORD"})
    rabbitmq = values.get("rabbitmq", {"enabled": True})
    if rabbitmq.get("enabled", True) and not rabbitmq.get("auth", {}).get("existingSecret"):
        created.add("Secret", subchart_fullname(release, "rabbitmq", rabbitmq), {"password", "erlang-cookie"})
    return created


# Objects an operator creates from a custom resource: kind -> (kind, name template, keys).
OPERATOR_OBJECTS = {
    # RabbitMQ Cluster Operator (dependencies.md): the default user's Secret.
    "RabbitmqCluster": [
        ("Secret", "{name}-default-user", {"username", "password", "host", "port", "connection_string", "provider", "type"}),
    ],
    # CloudNativePG: the application user's Secret.
    "Cluster": [("Secret", "{name}-app", {"username", "password", "dbname", "host", "port", "uri"})],
}


def operator_objects(objects: list[dict[str, Any]]) -> Inventory:
    created = Inventory()
    for obj in objects:
        for kind, template, keys in OPERATOR_OBJECTS.get(obj["kind"], []):
            created.add(kind, template.format(name=obj["metadata"]["name"]), keys)
    return created


# The broker's Services and pods as their makers create them. Neither can be rendered here: the
# CloudPirates subchart is an OCI dependency that cannot be fetched offline, and the operator creates
# its objects at runtime. (Service/port names from /work/shared/reference/dependencies.md; labels from
# the makers' sources, cited per function.)



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
    fullname = subchart_fullname(release, "rabbitmq", values)
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
