"""skaffold.yaml, checked offline: it parses, and every path, name and port it uses is real."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from chartlib import REPO, chart, render

SKAFFOLD = REPO / "skaffold.yaml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    document = yaml.safe_load(SKAFFOLD.read_text())
    assert document["kind"] == "Config"
    assert re.fullmatch(r"skaffold/v[0-9]+(beta[0-9]+)?", document["apiVersion"])
    return document


def apply_profile(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Apply a profile's JSON patches (only `add`, the one operation we use)."""
    (profile,) = [p for p in config["profiles"] if p["name"] == name]
    release = dict(config["deploy"]["helm"]["releases"][0])
    for patch in profile["patches"]:
        assert patch["op"] == "add"
        assert patch["path"].startswith("/deploy/helm/releases/0/")
        release[patch["path"].rsplit("/", 1)[1]] = patch["value"]
    return release


def test_builds_the_real_dockerfile(config: dict[str, Any]) -> None:
    (artifact,) = config["build"]["artifacts"]
    dockerfile = REPO / artifact.get("context", ".") / artifact["docker"]["dockerfile"]
    assert dockerfile == REPO / "docker" / "Dockerfile"
    assert dockerfile.is_file(), "docker/Dockerfile is missing"
    assert re.search(r"^ENTRYPOINT \[\"watchtime\"\]", dockerfile.read_text(), re.MULTILINE)


def test_deploys_the_chart_with_the_built_image(config: dict[str, Any]) -> None:
    (release,) = config["deploy"]["helm"]["releases"]
    assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
    assert (REPO / release["chartPath"]).resolve() == (REPO / "charts" / "watchtime").resolve()
    image = config["build"]["artifacts"][0]["image"]
    templates = release["setValueTemplates"]
    assert templates["image.repository"] == f"{{{{.IMAGE_REPO_NO_DOMAIN_{image}}}}}"
    assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{image}}}}}"
    defaults = chart().values
    for key in templates:
        node = defaults
        for part in key.split("."):
            node = node[part]  # KeyError: skaffold sets a value the chart does not have


@pytest.mark.parametrize("profile", ["dev", "external"])
def test_profiles_render_with_their_values_and_forward_the_api(config: dict[str, Any], profile: str) -> None:
    release = apply_profile(config, profile)
    values: dict[str, Any] = {}
    for values_file in release["valuesFiles"]:
        path = REPO / values_file
        assert path.is_file(), values_file
        values.update(yaml.safe_load(path.read_text()))
    # What skaffold's templates produce for a locally built image.
    values["image"] = {"registry": "", "repository": "watchtime", "tag": "abc123", "pullPolicy": "IfNotPresent"}
    rendered = render(values, release=release["name"], namespace=release["namespace"])
    assert rendered.workload("api")["spec"]["template"]["spec"]["containers"][0]["image"] == "watchtime:abc123"
    (forward,) = config["portForward"]
    service = rendered.get("Service", forward["resourceName"])
    assert forward["namespace"] == release["namespace"]
    assert forward["port"] in {port["port"] for port in service["spec"]["ports"] if port["name"] == "http"}
    if profile == "dev":
        assert rendered.values.get("postgres", {}).get("enabled", True), "dev uses the in-cluster dependencies"
    else:
        assert values["postgres"]["enabled"] is False and values["rabbitmq"]["enabled"] is False


def test_every_path_in_skaffold_exists(config: dict[str, Any]) -> None:
    text = SKAFFOLD.read_text()
    for match in re.findall(r"(?:charts|docker)/[\w./-]+", text):
        assert (REPO / match).exists(), match
