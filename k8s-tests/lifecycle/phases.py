"""Helm's install, upgrade and test phases, and what exists when each object is created.

Facts (helm/helm pkg/action/install.go, upgrade.go, hooks.go, release_testing.go;
pkg/release/util/kind_sorter.go, in /work/shared/reference/helm-lifecycle.md):
- `helm install`: pre-install hooks, then the release's objects (Helm's kind order), then (with
  `--wait`, which Flux's helm-controller uses by default) wait until they are ready, then the
  post-install hooks. `helm upgrade` is the same with pre-upgrade / post-upgrade; during
  pre-upgrade the previous revision's objects exist and the new revision's do not yet.
- The hooks of an event run one at a time, sorted by `helm.sh/hook-weight`, then kind order, then
  name; Helm waits for each Job to complete (a Pod to succeed). `hook-succeeded` deletions happen
  once every hook of the event has succeeded; `before-hook-creation` deletes the previous copy just
  before a hook is created again.
- `helm test` runs the `test` hooks against the installed release.
- `--wait` waits for Deployments, StatefulSets, DaemonSets and Pods to be ready (and Jobs to complete
  with `--wait-for-jobs`, which Flux uses by default), never for a CronJob: a CronJob's runs come later.
- A pod whose serviceAccountName does not exist is refused at creation; a missing Secret or
  ConfigMap (or key) that is not optional leaves it in CreateContainerConfigError. Either way a
  hook never completes and the install times out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .inventory import Inventory, dependency_objects, operator_objects

# Helm's releaseutil.InstallOrder; kinds not listed (custom resources) come last.
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
    "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
WAITED_FOR = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


def kind_rank(kind: str) -> int:
    return INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def hook_events(obj: dict[str, Any]) -> set[str]:
    return {event.strip() for event in annotations(obj).get("helm.sh/hook", "").split(",") if event.strip()}


def hook_weight(obj: dict[str, Any]) -> int:
    return int(annotations(obj).get("helm.sh/hook-weight", "0"))


def delete_policies(obj: dict[str, Any]) -> set[str]:
    # Helm's default when a hook names none.
    policies = {p.strip() for p in annotations(obj).get("helm.sh/hook-delete-policy", "").split(",") if p.strip()}
    return policies or {"before-hook-creation"}


def release_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects Helm manages as the release, in the order it creates them."""
    plain = [obj for obj in objects if not hook_events(obj)]
    return sorted(plain, key=lambda obj: kind_rank(obj["kind"]))  # stable: file order within a kind


def hooks_of(objects: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """The hooks of one event, in the order Helm runs them."""
    hooks = [obj for obj in objects if event in hook_events(obj)]
    return sorted(hooks, key=lambda obj: (hook_weight(obj), kind_rank(obj["kind"]), obj["metadata"]["name"]))


def name_of(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


# --- what a pod references -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    key: str | None
    optional: bool
    via: str


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if obj["kind"] in WORKLOADS:
        return obj["spec"]["template"]["spec"]
    return None


def references(spec: dict[str, Any]) -> Iterator[Ref]:
    """Every object a pod needs to start: ServiceAccount, pull secrets, env sources, volumes."""
    yield Ref("ServiceAccount", spec.get("serviceAccountName") or "default", None, False, "serviceAccountName")
    for pull in spec.get("imagePullSecrets", []):
        yield Ref("Secret", pull["name"], None, False, "imagePullSecrets")
    for container in spec.get("initContainers", []) + spec["containers"]:
        where = f"container {container['name']}"
        for source in container.get("envFrom", []):
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field in source:
                    ref = source[field]
                    yield Ref(kind, ref["name"], None, bool(ref.get("optional")), f"{where} envFrom")
        for entry in container.get("env", []):
            value_from = entry.get("valueFrom", {})
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if field in value_from:
                    ref = value_from[field]
                    yield Ref(kind, ref["name"], ref["key"], bool(ref.get("optional")), f"{where} env {entry['name']}")
    for volume in spec.get("volumes", []):
        where = f"volume {volume['name']}"
        if "configMap" in volume:
            yield Ref("ConfigMap", volume["configMap"]["name"], None, bool(volume["configMap"].get("optional")), where)
        if "secret" in volume:
            yield Ref("Secret", volume["secret"]["secretName"], None, bool(volume["secret"].get("optional")), where)
        if "persistentVolumeClaim" in volume:
            yield Ref("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], None, False, where)


def missing(ref: Ref, existing: Inventory) -> str | None:
    """Why the reference does not resolve, or None."""
    if ref.optional:
        return None
    if not existing.has(ref.kind, ref.name):
        return f"{ref.via}: no {ref.kind} {ref.name} exists at this moment"
    keys = existing.keys(ref.kind, ref.name)
    if ref.key is not None and keys is not None and ref.key not in keys:
        return f"{ref.via}: {ref.kind} {ref.name} has no key {ref.key} at this moment (it has {sorted(keys)})"
    return None


# --- the phases ------------------------------------------------------------------------------------------------------

@dataclass
class Step:
    """One object being created, and what exists at that moment."""

    phase: str
    obj: dict[str, Any]
    existing: Inventory

    def problems(self) -> list[str]:
        spec = pod_spec(self.obj)
        if spec is None:
            return []
        where = f"{self.phase}: {name_of(self.obj)}"
        if hook_events(self.obj):
            where += f" (hook weight {hook_weight(self.obj)})"
        return [f"{where}: {why}" for ref in references(spec) if (why := missing(ref, self.existing))]


def _run_hooks(event: str, objects: list[dict[str, Any]], existing: Inventory, steps: list[Step]) -> None:
    """Hooks one at a time; once all succeeded, the hook-succeeded ones are deleted."""
    ran = hooks_of(objects, event)
    for hook in ran:
        existing.remove(hook["kind"], hook["metadata"]["name"])  # before-hook-creation, or a fresh name
        steps.append(Step(event, hook, existing.copy()))
        existing.add_object(hook)
    for hook in ran:
        if "hook-succeeded" in delete_policies(hook):
            existing.remove(hook["kind"], hook["metadata"]["name"])


def _release_phase(phase: str, release, existing: Inventory, steps: list[Step]) -> None:
    """Helm creates (or patches) every release object in one pass; controllers retry pods whose
    references appear later in the same pass, so each pod sees all of them, plus what the subcharts
    and operators create from them."""
    objects = release_objects(release.objects)
    for obj in objects:
        existing.add_object(obj)
    created = dependency_objects(release.values, release.name).merged(operator_objects(objects))
    existing.objects.update(created.objects)
    for obj in objects:
        steps.append(Step(phase, obj, existing.copy()))


def _install(release, given: Inventory) -> tuple[list[Step], Inventory]:
    existing, steps = given.copy(), []
    _run_hooks("pre-install", release.objects, existing, steps)
    _release_phase("install", release, existing, steps)
    _run_hooks("post-install", release.objects, existing, steps)
    return steps, existing


def install_steps(release, given: Inventory) -> list[Step]:
    """`helm install`: every object of the release with what exists when it is created."""
    return _install(release, given)[0]


def upgrade_steps(previous, release, given: Inventory) -> list[Step]:
    """`helm upgrade` from an installed revision: what the install left exists at pre-upgrade;
    objects the new revision drops are deleted with the release phase."""
    existing = _install(previous, given)[1]
    steps: list[Step] = []
    _run_hooks("pre-upgrade", release.objects, existing, steps)
    kept = {name_of(obj) for obj in release_objects(release.objects)}
    for obj in release_objects(previous.objects):
        if name_of(obj) not in kept:
            existing.remove(obj["kind"], obj["metadata"]["name"])
    _release_phase("upgrade", release, existing, steps)
    _run_hooks("post-upgrade", release.objects, existing, steps)
    return steps


def test_steps(release, given: Inventory) -> list[Step]:
    """`helm test` on the installed release."""
    existing = _install(release, given)[1]
    steps: list[Step] = []
    _run_hooks("test", release.objects, existing, steps)
    return steps


def problems(steps: list[Step]) -> list[str]:
    return [problem for step in steps for problem in step.problems()]


# --- what waits for what ---------------------------------------------------------------------------------------------

def runs_migrations(obj: dict[str, Any]) -> bool:
    spec = pod_spec(obj)
    return spec is not None and any(c.get("args") == ["migrate"] for c in spec["containers"])


def waits_for_migrations(obj: dict[str, Any]) -> bool:
    """The wait-for-migrations init container loops until `watchtime migrate --check` passes."""
    spec = pod_spec(obj)
    return spec is not None and any(
        "watchtime migrate --check" in " ".join(c.get("command", [])) for c in spec.get("initContainers", [])
    )


def wait_deadlocks(release, event: str) -> list[str]:
    """With `--wait`, Helm runs post-<event> hooks only after the release's workloads are ready: a
    workload that waits for a post-<event> hook is never ready, and the install/upgrade times out."""
    later = [hook for hook in release.objects if f"post-{event}" in hook_events(hook) and runs_migrations(hook)]
    return [
        f"helm {event} --wait: {name_of(obj)} is ready only after {name_of(hook)} ran, "
        f"which Helm starts only after every release workload is ready (post-{event} hook)"
        for obj in release_objects(release.objects)
        if obj["kind"] in WAITED_FOR and waits_for_migrations(obj)
        for hook in later
    ]

