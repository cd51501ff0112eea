"""Fixtures of the chart tests; helpers live in chartlib.py."""

from __future__ import annotations

import pytest
from chartlib import VALUE_SETS, Rendered, render_value_set


@pytest.fixture(scope="session", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    """Each value set of the matrix, rendered once per session."""
    return render_value_set(request.param)


@pytest.fixture(scope="session")
def defaults() -> Rendered:
    return render_value_set("defaults")
