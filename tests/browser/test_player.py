"""A real <video> in headless Chromium, tracked by the SDK as a player page loads it, against the
embedded API and the full api + consumer stack; each scenario's total against its stated expectation."""

import pytest

from tests.browser import scenarios

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("case", scenarios.CASES, ids=scenarios.case_id)
def test_scenario(case, scenario_results):
    scenario, backend = case
    result = scenario_results[(scenario.name, backend)]
    assert result.error is None, result.error
    failed = [name for name, passed in result.checks.items() if not passed]
    assert not failed, f"failed checks: {failed}; facts: {result.facts}; artefacts in {result.artefacts}"
    assert result.measured == scenario.expected, (
        f"expected {scenario.expected} ({scenario.why}), measured {result.measured}; artefacts in {result.artefacts}")
    assert result.facts["sdk_exports"] == ["VERSION", "default", "track"]
