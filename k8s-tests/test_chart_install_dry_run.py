"""`helm install --dry-run=client` through the real Helm install action (no cluster).

Helm refuses to install a chart whose declared dependencies are absent from charts/, even when
their conditions are false, and the CloudPirates OCI registry is unreachable here. The test
therefore installs a copy of the chart whose charts/ holds empty stand-ins named and versioned
like the two subcharts: with postgres/rabbitmq disabled they are never rendered, so what is
installed is exactly our chart. (From source, users run `helm dependency build` first.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from chartlib import CHART_DIR, load_value_set

EMPTY_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


@pytest.fixture(scope="module")
def chart_with_stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("chart") / "watchtime"
    shutil.copytree(CHART_DIR, copy)
    for dependency in yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["dependencies"]:
        stand_in = copy / "charts" / dependency["name"]
        stand_in.mkdir(parents=True)
        version = dependency["version"].replace(".x", ".0")
        (stand_in / "Chart.yaml").write_text(f"apiVersion: v2\nname: {dependency['name']}\nversion: {version}\n")
    return copy


def dry_run_install(chart_dir: Path, values: dict[str, Any]) -> dict[str, Any]:
    config = helm_python.Config(kubeconfig_content=EMPTY_KUBECONFIG, storage_driver="memory", namespace="prod")
    try:
        with helm_python.Chart.load(chart_dir) as chart:
            return config.install(chart, "wt", values, namespace="prod", dry_run="client")
    finally:
        config.close()


@pytest.mark.parametrize("value_set", ["external", "gitops"])
def test_dry_run_install_separates_hooks_from_the_release(chart_with_stand_ins: Path, value_set: str) -> None:
    release = dry_run_install(chart_with_stand_ins, load_value_set(value_set))
    assert release["status"] == "pending-install"
    objects = [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "wt-watchtime-api"), ("Deployment", "wt-watchtime-consumer")} <= kinds
    assert ("Pod", "wt-watchtime-test") not in kinds, "helm test pod is a hook"
    jobs = [o for o in objects if o["kind"] == "Job"]
    if value_set == "gitops":
        assert len(jobs) == 1, "useHelmHooks=false: the migrations Job is part of the release"
    else:
        assert jobs == [], "the migrations Job is a hook, not a release object"
    assert "watchtime createkey" in release["notes"]


def test_dry_run_install_rejects_a_values_typo(chart_with_stand_ins: Path) -> None:
    with pytest.raises(helm_python.HelmError, match="replicaCount"):
        dry_run_install(chart_with_stand_ins, {**load_value_set("external"), "replicaCount": 3})
