"""values.yaml, values.schema.json and the README table stay in step; the schema rejects bad values."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python
import pytest
import yaml
from chartlib import CHART_DIR, chart, load_chart_docs, render

chart_docs = load_chart_docs()


def test_schema_and_readme_are_generated_from_values() -> None:
    schema_text, readme = chart_docs.generate()
    assert (CHART_DIR / "values.schema.json").read_text() == schema_text, (
        "values.schema.json is stale: python charts/watchtime/hack/chart_docs.py --write"
    )
    assert (CHART_DIR / "README.md").read_text() == readme, "README values table is stale: chart_docs.py --write"


def test_every_value_is_documented_and_every_documented_key_exists() -> None:
    text = (CHART_DIR / "values.yaml").read_text()
    values = yaml.safe_load(text)
    params = chart_docs.read_params(text)
    assert chart_docs.check_coverage(values, params) == []
    readme_keys = {
        line.split("`")[1]
        for line in (CHART_DIR / "README.md").read_text().splitlines()
        if line.startswith("| `")
    }
    assert readme_keys == set(params)
    assert set(chart_docs.leaf_paths(values)) == set(params)


def test_every_value_has_a_schema_entry() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    for path in chart_docs.leaf_paths(values):
        node: dict[str, Any] = schema
        for part in path.split("."):
            node = node["properties"][part]
        assert node.get("description"), path


def test_coverage_check_finds_undocumented_and_phantom_keys() -> None:
    values = {"a": 1, "b": {"c": True}}
    assert chart_docs.check_coverage(values, {"a": "doc", "b.d": "doc"}) == [
        "@param b.d documents a key that values.yaml does not have",
        "values.yaml key b.c has no @param line",
    ]


def test_defaults_and_matrix_value_sets_pass_the_schema() -> None:
    chart().validate_schema({})
    for path in sorted((CHART_DIR / "ci").glob("*-values.yaml")):
        chart().validate_schema(yaml.safe_load(path.read_text()))


BAD_VALUES = [
    pytest.param({"imgae": {"tag": "1"}}, "additional properties 'imgae'", id="top-level typo"),
    pytest.param({"api": {"replica": 3}}, "additional properties 'replica'", id="nested typo"),
    pytest.param({"api": {"replicas": "3"}}, "/api/replicas", id="replicas as string"),
    pytest.param({"api": {"replicas": -1}}, "/api/replicas", id="negative replicas"),
    pytest.param({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy", id="pull policy enum"),
    pytest.param({"image": {"digest": "md5:abc"}}, "/image/digest", id="digest format"),
    pytest.param({"consumer": {"autoscaling": {"mode": "KEDA"}}}, "/consumer/autoscaling/mode", id="mode enum"),
    pytest.param({"config": {"logLevel": "verbose"}}, "/config/logLevel", id="log level enum"),
    pytest.param({"config": {"debug": "false"}}, "/config/debug", id="boolean as string"),
    pytest.param({"config": {"rateLimit": "fast"}}, "/config/rateLimit", id="rate format"),
    pytest.param({"config": {"csrfTrustedOrigins": ["example.com"]}}, "/config/csrfTrustedOrigins", id="origin"),
    pytest.param({"bootstrapApiKey": {"scopes": ["write"]}}, "/bootstrapApiKey/scopes", id="scope enum"),
    pytest.param({"bootstrapApiKey": {"scopes": []}}, "/bootstrapApiKey/scopes", id="no scopes"),
    pytest.param({"externalDatabase": {"port": 70000}}, "/externalDatabase/port", id="port range"),
    pytest.param({"externalDatabase": {"existingSecret": "Bad_Name"}}, "/externalDatabase/existingSecret", id="secret name"),
    pytest.param({"api": {"livenessProbe": {"successThreshold": 2}}}, "successThreshold", id="liveness success"),
    pytest.param({"api": {"readinessProbe": {"periodSeconds": 0}}}, "periodSeconds", id="probe period"),
    pytest.param({"api": {"pdb": {"maxUnavailable": "half"}}}, "/api/pdb/maxUnavailable", id="pdb value"),
    pytest.param({"api": {"service": {"type": "ExternalName"}}}, "/api/service/type", id="service type"),
    pytest.param({"ingress": {"hosts": [{"host": "a", "path": "/"}]}}, "/ingress/hosts", id="ingress shape"),
    pytest.param({"ingress": {"hosts": [{"paths": [{"path": "/", "pathType": "Regex"}]}]}}, "pathType", id="path type"),
    pytest.param({"metrics": {"serviceMonitor": {"interval": 30}}}, "interval", id="interval type"),
    pytest.param({"extraEnvVars": [{"value": "x"}]}, "/extraEnvVars", id="env without name"),
    pytest.param({"tmpVolume": {"sizeLimit": "lots"}}, "/tmpVolume/sizeLimit", id="quantity"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_schema_rejects_bad_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as error:
        chart().validate_schema(values)
    assert message in str(error.value)


def test_set_flag_typo_fails_like_helm_install() -> None:
    """`--set consumer.autoscalling.mode=keda` must not be silently ignored."""
    values = helm_python.parse_set_string("consumer.autoscalling.mode=keda")
    with pytest.raises(helm_python.HelmValuesError, match="autoscalling"):
        render(values)


def test_subchart_values_pass_through() -> None:
    chart().validate_schema({"postgres": {"persistence": {"size": "50Gi"}}, "rabbitmq": {"persistence": {"enabled": True}}})


def test_readme_mentions_only_paths_that_exist() -> None:
    from chartlib import REPO

    readme = (CHART_DIR / "README.md").read_text()
    for path in re.findall(r"(?<![\w/.-])((?:charts|docker|k8s-tests)/[\w./-]*\w)", readme):
        if path.startswith("charts/watchtime/charts"):
            continue  # where `helm dependency build` puts the subcharts
        assert (REPO / path).exists(), path


def test_all_in_one_postgres_compresses_its_wal_and_has_connections_for_the_api_threads() -> None:
    """The CloudPirates `postgres` subchart appends `config.extraConfig` to its postgresql.conf, one
    line each: the chart's default turns on lz4 WAL compression (docs/operations.md) and allows a
    connection per API thread of the default replicas (a thread that served a read keeps one)."""
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    lines = values["postgres"]["config"]["extraConfig"]
    settings = dict(re.fullmatch(r"([a-z_]+) = (\S+)", line).groups() for line in lines)
    assert settings == {"wal_compression": "lz4", "max_connections": "400"}
    api = values["api"]
    api_connections = api["replicas"] * api["webConcurrency"] * api["threads"]
    assert api_connections * 2 <= int(settings["max_connections"]), "room for twice the API's default replicas"
    chart().validate_schema({"postgres": {"config": {"extraConfig": ["wal_compression = lz4", "max_wal_size = 4GB"],
                                                     "postgresql": {"max_connections": 200}}}})
    with pytest.raises(helm_python.HelmValuesError, match="extraConfig"):
        chart().validate_schema({"postgres": {"config": {"extraConfig": "wal_compression = lz4"}}})
