"""Static checks of docker/Dockerfile: hadolint clean, checkov clean except skips justified in checkov-skips.yaml.

Fast (no container engine): `pytest k8s-tests/test_image_static.py`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from checkov_skips import assert_all_justified, load_skips, run_checkov, stale_skips, venv_tool

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "docker" / "Dockerfile"
FRAMEWORK = "dockerfile"


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", "--format", "tty", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    """The clean result above means something: the same invocation flags an unpinned apt-get and a root user."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DL3008" in result.stdout and "DL3006" in result.stdout, result.stdout


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    return run_checkov(FRAMEWORK, "-f", str(DOCKERFILE), cwd=REPO)


def test_checkov_has_no_unjustified_failures(checkov_report: dict[str, Any]) -> None:
    print("\n" + assert_all_justified(checkov_report, FRAMEWORK, more_passed_than=50))


def test_every_dockerfile_skip_is_still_needed(checkov_report: dict[str, Any]) -> None:
    stale = stale_skips(checkov_report["results"]["failed_checks"], load_skips(FRAMEWORK))
    assert not stale, f"stale skips, remove them: {stale}"


def test_default_base_image_is_pinned_by_tag_and_digest() -> None:
    """What CKV_DOCKER_7 cannot see through `FROM ${BASE_IMAGE}` (see its skip): the default is pinned."""
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert default, "docker/Dockerfile must declare ARG BASE_IMAGE with a default"
    assert re.fullmatch(r"python:3\.12[\w.-]*-slim-bookworm@sha256:[0-9a-f]{64}", default.group(1)), default.group(1)


def test_every_stage_builds_from_the_base_argument_or_an_earlier_stage() -> None:
    stages: list[str] = []
    for base, name in re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)$", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE):
        assert base == "${BASE_IMAGE}" or base in stages, f"stage {name} builds FROM {base}"
        stages.append(name)
    assert len(stages) >= 2, "multi-stage build expected"
