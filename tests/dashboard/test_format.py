"""Numbers for people: durations in hours and minutes, thousands separators, shares as percentages."""

import pytest

from watchtime.dashboard.templatetags import dashboard_format as f

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (42.4, "42 s"), (60, "1 min"), (75, "1 min 15 s"), (3600, "1 h 0 min"), (4210, "1 h 10 min"),
    (36_000_000, "10,000 h 0 min"), (None, "–"),
])
def test_duration(seconds, text):
    assert f.duration(seconds) == text


def test_count_share_and_percent():
    assert (f.count(1234567), f.count(None)) == ("1,234,567", "–")
    assert (f.share(0.5347), f.share(None)) == ("53.5 %", "–")
    assert f.percent(53.47) == "53.5 %"
