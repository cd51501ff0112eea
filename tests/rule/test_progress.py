"""Progress, as worked tables: percent = 100 x position / duration (None without one); state is
completed from exactly completed_percent, else in_progress when position > 0, else not_started."""

import pytest

from watchtime.rule.progress import COMPLETED, IN_PROGRESS, NOT_STARTED, ProgressDefinition, percent, state


@pytest.mark.parametrize(
    ("position", "duration", "expected"),
    [
        pytest.param(45, 90, 50.0, id="half"),
        pytest.param(0, 90, 0.0, id="at the start"),
        pytest.param(90, 90, 100.0, id="at the end"),
        pytest.param(135, 90, 150.0, id="past the end is not capped"),
        pytest.param(1, 3, 100 / 3, id="a third"),
        pytest.param(45, None, None, id="no duration"),
        pytest.param(45, 0, None, id="duration 0 is no duration"),
    ],
)
def test_percent(position, duration, expected):
    assert percent(position, duration) == expected


@pytest.mark.parametrize(
    ("position", "duration", "completed_percent", "expected"),
    [
        pytest.param(90, 100, 90, COMPLETED, id="exactly 90 percent"),
        pytest.param(89, 100, 90, IN_PROGRESS, id="a second short"),
        # 100 x 1619 / 1800 = 89.94...; 1620 is 90 exactly.
        pytest.param(1619, 1800, 90, IN_PROGRESS, id="just under 90 percent of 1800"),
        pytest.param(1620, 1800, 90, COMPLETED, id="exactly 90 percent of 1800"),
        # 100 x 2 / 3 = 66.66...: under 67, over 66.
        pytest.param(2, 3, 67, IN_PROGRESS, id="two thirds under 67"),
        pytest.param(2, 3, 66, COMPLETED, id="two thirds over 66"),
        pytest.param(100, 100, 100, COMPLETED, id="100 percent needs the end"),
        pytest.param(99, 100, 100, IN_PROGRESS, id="100 percent, a second short"),
        pytest.param(5000, 100, 90, COMPLETED, id="past the end"),
        pytest.param(1, 100, 1, COMPLETED, id="completed_percent 1"),
        pytest.param(0, 100, 90, NOT_STARTED, id="position 0"),
        pytest.param(0, 100, 1, NOT_STARTED, id="position 0 under the lowest threshold"),
        pytest.param(0, None, 90, NOT_STARTED, id="position 0 without duration"),
        pytest.param(86400, None, 90, IN_PROGRESS, id="no duration: never completed"),
        pytest.param(86400, 0, 90, IN_PROGRESS, id="duration 0: never completed"),
    ],
)
def test_state(position, duration, completed_percent, expected):
    assert state(position, duration, ProgressDefinition(completed_percent=completed_percent)) == expected


def test_the_default_is_90_percent():
    assert ProgressDefinition().completed_percent == 90
    assert state(90, 100, ProgressDefinition()) == COMPLETED
