"""Paths of the observability artefacts shipped in the chart, and their tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "watchtime"
RULES_FILE = CHART / "rules" / "watchtime-alerts.yaml"
DASHBOARD_FILE = CHART / "dashboards" / "watchtime.json"
RULE_TESTS_FILE = Path(__file__).resolve().parent / "watchtime-alerts.test.yaml"
