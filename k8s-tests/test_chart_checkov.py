"""checkov (framework kubernetes) on the rendered chart of every value set: zero unjustified failures.

checkov runs once without skips; each failure must match an entry of checkov-skips.yaml (which
carries the justification), and each entry must still match a failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import VALUE_SETS, render_value_set
from checkov_skips import assert_all_justified, load_skips, run_checkov, stale_skips

pytestmark = pytest.mark.slow  # checkov takes 15-60 s

FRAMEWORK = "kubernetes"


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("rendered")
    for name in VALUE_SETS:
        (directory / f"{name}.yaml").write_text(yaml.safe_dump_all(render_value_set(name).objects))
    return run_checkov(FRAMEWORK, "-d", str(directory))


def test_no_unjustified_checkov_failures(checkov_report: dict[str, Any]) -> None:
    print("\n" + assert_all_justified(checkov_report, FRAMEWORK, more_passed_than=0))


def test_every_skip_is_still_needed(checkov_report: dict[str, Any]) -> None:
    stale = stale_skips(checkov_report["results"]["failed_checks"], load_skips(FRAMEWORK))
    assert not stale, f"stale skips, remove them: {stale}"


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
