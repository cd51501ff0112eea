"""Fixtures of the chart tests; helpers live in chartlib.py and lifecycle/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from chartlib import CHART_DIR, VALUE_SETS, Rendered, render_value_set


@pytest.fixture(scope="session", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    """Each value set of the matrix, rendered once per session."""
    return render_value_set(request.param)


@pytest.fixture(scope="session")
def defaults() -> Rendered:
    return render_value_set("defaults")


@pytest.fixture(scope="session")
def chart_with_stand_ins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chart whose charts/ holds empty stand-ins named and versioned like the two
    subcharts, so Helm's install action accepts it offline (it insists on declared dependencies)."""
    copy = tmp_path_factory.mktemp("chart") / "watchtime"
    shutil.copytree(CHART_DIR, copy)
    for dependency in yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["dependencies"]:
        stand_in = copy / "charts" / dependency["name"]
        stand_in.mkdir(parents=True)
        version = dependency["version"].replace(".x", ".0")
        (stand_in / "Chart.yaml").write_text(f"apiVersion: v2\nname: {dependency['name']}\nversion: {version}\n")
    return copy
