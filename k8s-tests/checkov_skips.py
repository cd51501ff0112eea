"""checkov against the one skip file, for the chart and the Dockerfile alike.

checkov runs without skips; every failure must match an entry of checkov-skips.yaml (which
carries the justification), and every entry must still match a failure.
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

SKIPS_FILE = Path(__file__).resolve().parent / "checkov-skips.yaml"


def venv_tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' (it is a pinned test dependency)")
    return found


def run_checkov(framework: str, *target: str, cwd: Path | None = None) -> dict[str, Any]:
    """checkov's JSON report for `target` (`-d DIR` or `-f FILE`)."""
    result = subprocess.run(
        [venv_tool("checkov"), "--skip-download", "--framework", framework, *target, "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False, cwd=cwd,
    )
    # Exit code 1 only means "failed checks exist"; those are judged against the skip file.
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def load_skips(framework: str) -> list[dict[str, Any]]:
    skips = [s for s in yaml.safe_load(SKIPS_FILE.read_text())["skips"] if s["framework"] == framework]
    for skip in skips:
        assert set(skip) <= {"id", "framework", "justification", "resource"}, skip
        assert len(skip["justification"].split()) >= 8, f"{skip['id']}: justify the skip"
    return skips


def matching_skip(failure: dict[str, Any], skips: list[dict[str, Any]]) -> dict[str, Any] | None:
    for skip in skips:
        if skip["id"] != failure["check_id"]:
            continue
        if "resource" in skip and not re.fullmatch(skip["resource"], failure["resource"]):
            continue
        return skip
    return None


def unjustified(failures: list[dict[str, Any]], skips: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['check_id']} {f['check_name']} on {f['resource']} ({Path(f['file_path']).name}, lines {f['file_line_range']})"
        for f in failures
        if matching_skip(f, skips) is None
    ]


def stale_skips(failures: list[dict[str, Any]], skips: list[dict[str, Any]]) -> list[str]:
    return [skip["id"] for skip in skips if not any(matching_skip(f, [skip]) is skip for f in failures)]


def assert_all_justified(report: dict[str, Any], framework: str, *, more_passed_than: int) -> str:
    """Assert checkov parsed everything and each failure matches a skip; returns a summary line."""
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > more_passed_than, summary  # the target was really checked
    failures = report["results"]["failed_checks"]
    not_justified = unjustified(failures, load_skips(framework))
    assert not not_justified, "\n".join(not_justified)
    by_check = dict(sorted(Counter(f["check_id"] for f in failures).items()))
    return (
        f"checkov {framework}: {summary['passed']} passed, {len(failures)} failed and justified in "
        f"{SKIPS_FILE.name} ({by_check}), 0 unjustified"
    )
