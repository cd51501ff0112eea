"""Rendering helpers of the chart tests: the real Helm Go library (helm-python-sdk) renders the chart.

Every value set of the matrix is rendered once per session (`render_value_set` is cached), so the
many wiring, schema and policy tests stay fast.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parent.parent
# The chart under test. WATCHTIME_CHART_DIR points the suite at another copy of it (an older
# revision's charts/watchtime, say, to see which lifecycle checks that one fails).
CHART_DIR = Path(os.environ.get("WATCHTIME_CHART_DIR") or REPO / "charts" / "watchtime").resolve()
CI_VALUES_DIR = CHART_DIR / "ci"
RELEASE = "wt"
NAMESPACE = "prod"

# name -> values file under charts/watchtime/ci/ (None: chart defaults).
VALUE_SETS: dict[str, str | None] = {
    "defaults": None,
    "dev": "dev-values.yaml",
    "external": "external-values.yaml",
    "operator": "operator-values.yaml",
    "keda": "keda-values.yaml",
    "hpa": "hpa-values.yaml",
    "ingress-tls": "ingress-tls-values.yaml",
    "gitops": "gitops-values.yaml",
    "all-features": "all-features-values.yaml",
}


@dataclass
class Rendered:
    """One rendered release: its objects, indexed by kind and name."""

    name: str
    values: dict[str, Any]
    objects: list[dict[str, Any]]
    notes: str
    namespace: str = NAMESPACE
    by_kind: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            self.by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj

    def kinds(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.by_kind.get(kind, {})

    def get(self, kind: str, name: str) -> dict[str, Any]:
        try:
            return self.by_kind[kind][name]
        except KeyError:
            raise AssertionError(f"{kind}/{name} not rendered; have {sorted(self.kinds(kind))}") from None

    def workload(self, component: str) -> dict[str, Any]:
        """The Deployment, Job or CronJob of a component."""
        for kind in ("Deployment", "Job", "CronJob"):
            for obj in self.kinds(kind).values():
                if obj["metadata"]["labels"].get("app.kubernetes.io/component") == component:
                    return obj
        raise AssertionError(f"no workload for component {component}")


@functools.lru_cache(maxsize=1)
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART_DIR)


def load_chart_docs() -> ModuleType:
    """The chart's own generator of values.schema.json and the README values table (hack/chart_docs.py)."""
    spec = importlib.util.spec_from_file_location("chart_docs", CHART_DIR / "hack" / "chart_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_value_set(name: str) -> dict[str, Any]:
    filename = VALUE_SETS[name]
    return {} if filename is None else yaml.safe_load((CI_VALUES_DIR / filename).read_text())


def render(
    values: dict[str, Any],
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    revision: int = 1,
    is_upgrade: bool = False,
) -> Rendered:
    """Validate against values.schema.json (as `helm install` does), then render offline.

    An install renders revision 1; `is_upgrade` renders a later revision as `helm upgrade` would
    (offline: `lookup` sees nothing, see lifecycle.cluster for renders that read a live Secret).
    """
    chart().validate_schema(values)
    manifests = chart().render(
        values, name=release, namespace=namespace, revision=revision, is_install=not is_upgrade, is_upgrade=is_upgrade
    )
    return parse_manifests(manifests, release, namespace, values)


def parse_manifests(manifests: dict[str, str], release: str, namespace: str, values: dict[str, Any]) -> Rendered:
    """Rendered objects (and NOTES.txt) of a render's file -> text map."""
    objects = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(name=release, values=values, objects=objects, notes=notes, namespace=namespace)


EMPTY_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


def dry_run_install(chart_dir: Path, values: dict[str, Any], *, release: str = RELEASE,
                    namespace: str = NAMESPACE) -> dict[str, Any]:
    """`helm install --dry-run=client` through Helm's own install action: the release it would store."""
    config = helm_python.Config(kubeconfig_content=EMPTY_KUBECONFIG, storage_driver="memory", namespace=namespace)
    try:
        with helm_python.Chart.load(chart_dir) as loaded:
            return config.install(loaded, release, values, namespace=namespace, dry_run="client")
    finally:
        config.close()


@functools.cache
def render_value_set(name: str) -> Rendered:
    return render(load_value_set(name))


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata and spec) of a workload; a Pod is its own."""
    if obj["kind"] in ("Deployment", "Job"):
        return obj["spec"]["template"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if obj["kind"] == "Pod":
        return obj
    return None


def pod_specs(release: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """(object name, pod spec) of every pod the release can create."""
    return [(f"{obj['kind']}/{obj['metadata']['name']}", template["spec"])
            for obj in release.objects if (template := pod_template(obj)) is not None]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])
