"""checkov (framework kubernetes) on the rendered chart of every value set: zero unjustified failures.

checkov runs once without skips; each failure must match an entry of checkov-skips.yaml (which
carries the justification), and each entry must still match a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import VALUE_SETS, render_value_set

pytestmark = pytest.mark.slow  # checkov takes 15-60 s

SKIPS_FILE = Path(__file__).resolve().parent / "checkov-skips.yaml"
FRAMEWORK = "kubernetes"


def checkov_binary() -> str:
    candidate = Path(sys.executable).parent / "checkov"
    found = str(candidate) if candidate.exists() else shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed: pip install -e '.[test]' (it is a pinned test dependency)")
    return found


def load_skips() -> list[dict[str, Any]]:
    skips = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    for skip in skips:
        assert set(skip) <= {"id", "framework", "justification", "resource"}, skip
        assert len(skip["justification"].split()) >= 8, f"{skip['id']}: justify the skip"
    return skips


def matching_skip(failure: dict[str, Any], skips: list[dict[str, Any]]) -> dict[str, Any] | None:
    for skip in skips:
        if skip["framework"] != FRAMEWORK or skip["id"] != failure["check_id"]:
            continue
        if "resource" in skip and not re.fullmatch(skip["resource"], failure["resource"]):
            continue
        return skip
    return None


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("rendered")
    for name in VALUE_SETS:
        (directory / f"{name}.yaml").write_text(yaml.safe_dump_all(render_value_set(name).objects))
    result = subprocess.run(
        [checkov_binary(), "--skip-download", "--framework", FRAMEWORK, "-d", str(directory), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit code 1 only means "failed checks exist"; those are judged against the skip file below.
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_no_unjustified_checkov_failures(checkov_report: dict[str, Any]) -> None:
    skips = load_skips()
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    failures = checkov_report["results"]["failed_checks"]
    unjustified = [
        f"{f['check_id']} {f['check_name']} on {f['resource']} ({Path(f['file_path']).name})"
        for f in failures
        if matching_skip(f, skips) is None
    ]
    assert not unjustified, "\n".join(unjustified)
    by_check = Counter(f["check_id"] for f in failures)
    print(
        f"\ncheckov {FRAMEWORK}: {summary['passed']} passed, {len(failures) - len(unjustified)} failed "
        f"and justified in {SKIPS_FILE.name} ({dict(sorted(by_check.items()))}), {len(unjustified)} unjustified"
    )


def test_every_skip_is_still_needed(checkov_report: dict[str, Any]) -> None:
    failures = checkov_report["results"]["failed_checks"]
    for skip in load_skips():
        if skip["framework"] != FRAMEWORK:
            continue
        assert any(matching_skip(f, [skip]) is skip for f in failures), f"stale skip {skip['id']}: remove it"


def test_digest_pinning_passes_when_a_digest_is_set(checkov_report: dict[str, Any]) -> None:
    pinned = [
        f
        for f in checkov_report["results"]["failed_checks"]
        if f["check_id"] == "CKV_K8S_43" and Path(f["file_path"]).name == "all-features.yaml"
    ]
    assert pinned == []
    passed = [
        f
        for f in checkov_report["results"]["passed_checks"]
        if f["check_id"] == "CKV_K8S_43" and Path(f["file_path"]).name == "all-features.yaml"
    ]
    assert passed
