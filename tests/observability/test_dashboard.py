"""Structure of the shipped Grafana dashboard (its queries are checked against a real Prometheus elsewhere)."""

import json
import re

import pytest

from .artefacts import (
    DASHBOARD_FILE,
    PANELS_KUBERNETES_ONLY,
    PANELS_WITH_DATA_FROM_RABBITMQ,
    PANELS_WITH_DATA_UNDER_LOAD,
)

pytestmark = pytest.mark.unit  # no services, no processes

ROWS = ["Ingest (API)", "Pipeline (consumer)", "Maintenance", "Queue (RabbitMQ)", "Pods"]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


def panels(dashboard) -> list[dict]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_identity_and_schema(dashboard):
    assert dashboard["uid"] == "watchtime"
    assert dashboard["schemaVersion"] == 39
    assert dashboard["title"]
    assert "id" not in dashboard, "a provisioned dashboard must not carry a database id"


def test_rows_in_order(dashboard):
    assert [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"] == ROWS


def test_template_variables(dashboard):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "job", "queue"):
        assert variables[name]["type"] == "query", name
        assert variables[name]["datasource"] == DATASOURCE, name
    # outside Kubernetes there is no namespace label: "All" must also match the empty value
    assert variables["namespace"]["allValue"] == ".*"
    assert variables["queue"]["current"]["value"] == "watch-time"


def test_every_panel_queries_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"]), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_service_queries_are_scoped_to_namespace_and_job(dashboard):
    for panel in panels(dashboard):
        for target in panel["targets"]:
            for selector in re.findall(r"(?:watchtime|django_http)_\w+\{([^}]*)\}", target["expr"]):
                assert 'namespace=~"$namespace"' in selector, (panel["title"], target["expr"])
                assert 'job=~"$job"' in selector, (panel["title"], target["expr"])


def test_panel_ids_unique_and_layout_without_overlap(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    occupied: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps {occupied[(x, y)]}"
                occupied[(x, y)] = panel["title"]


def test_every_panel_is_classified_for_the_prometheus_test(dashboard):
    classes = [PANELS_WITH_DATA_UNDER_LOAD, PANELS_WITH_DATA_FROM_RABBITMQ, PANELS_KUBERNETES_ONLY]
    titles = [panel["title"] for panel in panels(dashboard)]
    assert len(titles) == len(set(titles)), "panel titles must be unique"
    assert set(titles) == set().union(*classes)
    assert sum(len(group) for group in classes) == len(set().union(*classes)), "a panel is in two classes"
