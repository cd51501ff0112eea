"""What an upgrade from revision N to N+1 does to objects that keep their name.

Facts (kubernetes/kubernetes pkg/apis/*/validation, /work/shared/reference/helm-lifecycle.md):
- Immutable after creation: a Job's spec.selector, spec.template and spec.completions; the
  spec.selector of a Deployment, StatefulSet and DaemonSet; a StatefulSet's volumeClaimTemplates,
  serviceName and podManagementPolicy; a Service's clusterIP; a PVC's spec except a larger storage
  request. `helm upgrade`, Argo CD and Flux all patch or apply, so a change there under the same
  name fails ("field is immutable").
- A CronJob has no immutable spec field: its jobTemplate may change on any upgrade and applies to the
  Jobs it creates afterwards (a running Job keeps its own template), so it keeps its name.
- A hook is created anew on every run; without `before-hook-creation` the previous run's object
  (kept after a failure, or without a delete policy that removes it) makes the create fail.
- A Deployment rolls its pods exactly when spec.template changes; the chart puts checksums of what
  a pod reads from the chart's own ConfigMap and Secret into the template, so a change there rolls
  the pods that read it, and only those.
"""

from __future__ import annotations

import base64
from typing import Any

from .phases import hook_events, name_of, pod_spec, references, release_objects

IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Job": ("spec.selector", "spec.template", "spec.completions"),
    "Deployment": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.volumeClaimTemplates", "spec.serviceName", "spec.podManagementPolicy"),
    "DaemonSet": ("spec.selector",),
    "CronJob": (),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeMode", "spec.selector"),
}
ROLLING = ("Deployment", "StatefulSet", "DaemonSet")
MISSING = object()


def field(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name_of(obj): obj for obj in objects}


def immutable_changes(before, after) -> list[str]:
    """Release objects kept under their name whose immutable fields differ."""
    old = by_name(release_objects(before.objects))
    problems = []
    for name, new in by_name(release_objects(after.objects)).items():
        if name not in old:
            continue
        for path in IMMUTABLE.get(new["kind"], ()):
            if field(old[name], path) != field(new, path):
                problems.append(f"{name}: {path} changed under the same name (the API server refuses: field is immutable)")
        if new["kind"] == "PersistentVolumeClaim":
            sizes = [field(o, "spec.resources.requests.storage") for o in (old[name], new)]
            if sizes[0] != sizes[1]:
                problems.append(f"{name}: storage request {sizes[0]} -> {sizes[1]} (only growth is allowed; check it)")
    return problems


def hooks_not_recreatable(release) -> list[str]:
    """Hooks with an explicit delete policy that does not remove the previous run's copy first."""
    problems = []
    for obj in release.objects:
        if not hook_events(obj):
            continue
        policy = (obj["metadata"].get("annotations") or {}).get("helm.sh/hook-delete-policy")
        if policy is not None and "before-hook-creation" not in policy:
            problems.append(f"{name_of(obj)}: hook-delete-policy {policy!r} lacks before-hook-creation")
    return problems


# --- which pods roll -------------------------------------------------------------------------------------------------

CHECKSUM_PREFIX = "checksum/"


def template(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]


def without_checksums(pod_template: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(pod_template.get("metadata", {}))
    metadata["annotations"] = {
        key: value for key, value in (metadata.get("annotations") or {}).items() if not key.startswith(CHECKSUM_PREFIX)
    }
    return {**pod_template, "metadata": metadata}


def decoded(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Secret":
        return {key: base64.b64decode(value).decode() for key, value in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


def data_read(release, obj: dict[str, Any]) -> dict[str, Any]:
    """What a pod reads from the chart's own ConfigMaps and Secrets: (kind, name[, key]) -> value."""
    owned = {(o["kind"], o["metadata"]["name"]): decoded(o) for o in release.objects
             if o["kind"] in ("Secret", "ConfigMap") and not hook_events(o)}
    read: dict[Any, Any] = {}
    for ref in references(pod_spec(obj)):
        data = owned.get((ref.kind, ref.name))
        if data is None:
            continue
        if ref.key is None:
            read[(ref.kind, ref.name)] = data
        else:
            read[(ref.kind, ref.name, ref.key)] = data.get(ref.key)
    return read


def rollout_mismatches(before, after) -> list[str]:
    """Pods that roll without a reason, and pods that keep running with stale configuration."""
    old = by_name(release_objects(before.objects))
    problems = []
    for name, new in by_name(release_objects(after.objects)).items():
        if new["kind"] not in ROLLING or name not in old:
            continue
        rolls = template(old[name]) != template(new)
        spec_changed = without_checksums(template(old[name])) != without_checksums(template(new))
        read_before, read_after = data_read(before, old[name]), data_read(after, new)
        changed_reads = sorted(str(key) for key in set(read_before) | set(read_after)
                               if read_before.get(key) != read_after.get(key))
        if rolls and not (spec_changed or changed_reads):
            problems.append(f"{name} rolls although nothing it runs or reads changed")
        if (spec_changed or changed_reads) and not rolls:
            problems.append(f"{name} keeps its pods although what they read changed: {changed_reads}")
    return problems


def generated_secret_changes(before, after, secret_name: str, keys: tuple[str, ...]) -> list[str]:
    """Generated keys of the chart's Secret, present in both revisions, whose value changed (lookup keeps them)."""
    old = {name_of(o): o for o in before.objects}.get(f"Secret/{secret_name}")
    new = {name_of(o): o for o in after.objects}.get(f"Secret/{secret_name}")
    if old is None or new is None:
        return []
    old_data, new_data = decoded(old), decoded(new)
    return [f"Secret/{secret_name} key {key} changed on upgrade" for key in keys
            if key in old_data and key in new_data and old_data[key] != new_data[key]]
