"""`helm install --dry-run=client` through the real Helm install action (no cluster).

Helm refuses to install a chart whose declared dependencies are absent from charts/, even when
their conditions are false, and the CloudPirates OCI registry is unreachable here. The test
therefore installs a copy of the chart whose charts/ holds empty stand-ins named and versioned
like the two subcharts (the `chart_with_stand_ins` fixture of conftest.py): with postgres/rabbitmq
disabled they are never rendered, so what is installed is exactly our chart. (From source, users
run `helm dependency build` first.)
"""

from __future__ import annotations

from pathlib import Path

import helm_python
import pytest
import yaml
from chartlib import dry_run_install, load_value_set


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
