"""Which connections a set of NetworkPolicies admits (networking.k8s.io/v1 semantics).

A pod is isolated for ingress (egress) once any policy of its namespace selects it with that policy
type; an isolated pod admits a connection when some selecting policy has a rule whose peers match
the other end (no `from`/`to` = any peer) and whose ports match (no `ports` = any port). A peer is a
podSelector (pods of the policy's namespace), a namespaceSelector (all pods of matching namespaces),
both (matching pods in matching namespaces), or an ipBlock (addresses; pods are matched by their
selectors instead, as the common CNIs do for pod IPs). A named port matches the destination
container port of that name. A connection needs the source's egress and the destination's ingress.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace and labels, named ports) or a bare address outside the pod network."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def pod(name: str, namespace: str, labels: dict[str, str], ports: dict[str, int] | None = None) -> Endpoint:
    return Endpoint(name, namespace, dict(labels), {"kubernetes.io/metadata.name": namespace}, dict(ports or {}))


def address(name: str, ip: str) -> Endpoint:
    return Endpoint(name, ip=ip)


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(other.ip)
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if not other.is_pod:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], other.labels)


def port_matches(rule_ports: list[dict[str, Any]] | None, destination: Endpoint, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = destination.ports.get(wanted)
            if wanted is None:
                continue
        if wanted <= port <= entry.get("endPort", wanted):
            return True
    return False


def policy_types(policy: dict[str, Any]) -> list[str]:
    """policyTypes, defaulting as the API server does: Ingress, plus Egress when egress rules exist."""
    spec = policy["spec"]
    return spec.get("policyTypes") or ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _admits(policies: list[dict[str, Any]], subject: Endpoint, other: Endpoint, destination: Endpoint,
            port: int, protocol: str, direction: str) -> bool:
    policy_type, rules_key, peers_key = {"ingress": ("Ingress", "ingress", "from"),
                                         "egress": ("Egress", "egress", "to")}[direction]
    selecting = [
        p for p in policies
        if p["metadata"].get("namespace") == subject.namespace
        and policy_type in policy_types(p)
        and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(peer, subject.namespace, other) for peer in peers)) and port_matches(
                rule.get("ports"), destination, port, protocol
            ):
                return True
    return False


def admitted(policies: list[dict[str, Any]], source: Endpoint, destination: Endpoint, port: int | str,
             protocol: str = "TCP") -> bool:
    """Whether `source` may open a connection to `destination` on `port` (a number or a port name)."""
    number = destination.ports[port] if isinstance(port, str) else port
    egress = not source.is_pod or _admits(policies, source, destination, destination, number, protocol, "egress")
    ingress = not destination.is_pod or _admits(policies, destination, source, destination, number, protocol, "ingress")
    return egress and ingress
