"""Name and label limits of every object the chart renders, and of the names operators derive from ours.

Facts (kubernetes/kubernetes apimachinery validation; /work/shared/reference/helm-lifecycle.md):
- Object names are DNS-1123 subdomains (<= 253); a Service name is a DNS-1035 label (<= 63, starts
  with a letter); label values are <= 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends.
- A Job labels its pods `job-name` / `batch.kubernetes.io/job-name: <job>`, so a Job name must be a
  valid label value (<= 63).
- The CronJob controller names each Job `<cronjob>-<scheduled time in minutes since the epoch>`
  (pkg/controller/cronjob/utils.go getJobName: 8 digits now, 11 characters with the dash reserved),
  so the API server refuses CronJob names over 52 (pkg/apis/batch/validation: 63 - 11).
- A StatefulSet labels its pods `controller-revision-hash: <statefulset>-<hash of about 10>` and
  `statefulset.kubernetes.io/pod-name: <statefulset>-<ordinal>`, and its pods are named
  `<statefulset>-<ordinal>` (a hostname, DNS-1123 label): over 52 characters its pods are never
  created (kubernetes/kubernetes#64023).
- The RabbitMQ Cluster Operator names its StatefulSet `<cluster>-server`, its Services `<cluster>`
  and `<cluster>-nodes`, its Secret `<cluster>-default-user`: a RabbitmqCluster name must be <= 45.
- CloudNativePG names pods `<cluster>-<n>`, Services `<cluster>-rw|ro|r` and its bootstrap Job
  `<cluster>-1-initdb`.
- KEDA creates `keda-hpa-<scaledobject>` and labels it `scaledobject.keda.sh/name: <scaledobject>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
HASH = "x" * 10  # a controller's hash suffix, at its longest
ORDINAL = "99"
SCHEDULED_MINUTES = "9" * 10  # the CronJob controller's suffix, at the longest it reserves room for


def name_rule(kind: str) -> tuple[re.Pattern[str], int, str]:
    if kind == "Service":
        return DNS_1035, 63, "DNS-1035 label"
    if kind == "Pod-hostname":
        return DNS_LABEL, 63, "DNS-1123 label"
    if kind == "CronJob":
        return SUBDOMAIN, 52, "DNS-1123 subdomain"
    return SUBDOMAIN, 253, "DNS-1123 subdomain"


def name_problem(kind: str, name: str, because: str = "") -> str | None:
    pattern, limit, what = name_rule(kind)
    if len(name) > limit or not pattern.match(name):
        why = f" ({because})" if because else ""
        return f"{kind} name {name!r} ({len(name)} characters) is not a {what} of at most {limit}{why}"
    return None


def label_problem(key: str, value: str, where: str) -> str | None:
    if len(value) > 63 or not LABEL_VALUE.match(value):
        return f"{where}: label {key}={value!r} ({len(value)} characters) is not a label value of at most 63"
    return None


def derived(obj: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """(kind, name, labels, because) of what Kubernetes controllers and operators create from obj."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "Job":
        labels = {"job-name": name, "batch.kubernetes.io/job-name": name}
        yield "Pod", f"{name}-{HASH[:5]}", labels, f"pod of Job {name}"
    elif kind == "CronJob":
        because = f"made by the CronJob controller from CronJob {name}"
        job = {"kind": "Job", "metadata": {"name": f"{name}-{SCHEDULED_MINUTES}"}}
        yield "Job", job["metadata"]["name"], {}, because
        for sub in derived(job):
            yield sub[0], sub[1], sub[2], f"{sub[3]}, {because}"
    elif kind == "StatefulSet":
        labels = {"controller-revision-hash": f"{name}-{HASH}", "statefulset.kubernetes.io/pod-name": f"{name}-{ORDINAL}"}
        yield "Pod-hostname", f"{name}-{ORDINAL}", labels, f"pod of StatefulSet {name}"
    elif kind == "RabbitmqCluster":
        because = f"made by the RabbitMQ Cluster Operator from RabbitmqCluster {name}"
        sts = {"kind": "StatefulSet", "metadata": {"name": f"{name}-server"}}
        yield "StatefulSet", f"{name}-server", {}, because
        for sub in derived(sts):
            yield sub[0], sub[1], sub[2], f"{sub[3]}, {because}"
        yield "Service", name, {}, because
        yield "Service", f"{name}-nodes", {}, because
        yield "Secret", f"{name}-default-user", {}, because
    elif kind == "Cluster" and obj.get("apiVersion", "").startswith("postgresql.cnpg.io/"):
        because = f"made by CloudNativePG from Cluster {name}"
        yield "Pod-hostname", f"{name}-{ORDINAL}", {}, because
        for suffix in ("rw", "ro", "r"):
            yield "Service", f"{name}-{suffix}", {}, because
        job = {"kind": "Job", "metadata": {"name": f"{name}-1-initdb"}}
        yield "Job", f"{name}-1-initdb", {}, because
        for sub in derived(job):
            yield sub[0], sub[1], sub[2], f"{sub[3]}, {because}"
    elif kind == "ScaledObject":
        because = f"made by KEDA from ScaledObject {name}"
        yield "HorizontalPodAutoscaler", f"keda-hpa-{name}", {"scaledobject.keda.sh/name": name}, because


def labels_of(obj: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    where = f"{obj['kind']}/{obj['metadata']['name']}"
    for key, value in (obj["metadata"].get("labels") or {}).items():
        yield key, str(value), where
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if obj["kind"] == "CronJob":
        for key, value in (spec["jobTemplate"].get("metadata", {}).get("labels") or {}).items():
            yield key, str(value), f"{where} job template"
        spec = spec["jobTemplate"]["spec"]
    for key, value in (spec.get("template", {}).get("metadata", {}).get("labels") or {}).items():
        yield key, str(value), f"{where} pod template"
    for key, value in (spec.get("selector", {}).get("matchLabels") or {}).items() if isinstance(spec.get("selector"), dict) else ():
        yield key, str(value), f"{where} selector"


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every name and label value that Kubernetes (or an operator acting on our objects) would refuse."""
    found = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if problem := name_problem(obj["kind"], obj["metadata"]["name"]):
            found.append(problem)
        found += [p for key, value, at in labels_of(obj) if (p := label_problem(key, value, at))]
        for kind, name, labels, because in derived(obj):
            if problem := name_problem(kind, name, because):
                found.append(f"{where}: {problem}")
            found += [f"{where}: {p}" for key, value in labels.items()
                      if (p := label_problem(key, value, f"{kind} {name} ({because})"))]
    return found
