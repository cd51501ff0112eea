"""Generated secrets survive upgrades: Helm's `lookup` reads the live Secret back.

Offline renders cannot show this (lookup returns nothing without a cluster), so the real Helm
library renders cluster-aware against the stand-in Kubernetes API of lifecycle/cluster.py, which
serves the one Secret a previous install left.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chartlib import NAMESPACE, RELEASE, chart
from lifecycle import cluster

FULLNAME = f"{RELEASE}-watchtime"
LIVE = {"django-secret-key": "secret-key-of-the-first-install", "live-token-key": "live-token-key-of-the-first-install",
        "bootstrap-api-key": "wt_abcd1234_" + "k" * 40}


def live_secret(data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": FULLNAME},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


@pytest.fixture(scope="module")
def live() -> Iterator[cluster.Cluster]:
    with cluster.running(NAMESPACE) as stand_in:
        stand_in.serve([live_secret(LIVE)], NAMESPACE)
        yield stand_in


def upgrade_render(live: cluster.Cluster, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manifests = live.render(chart(), values, release=RELEASE, namespace=NAMESPACE)
    objects = [
        doc
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_upgrade_keeps_the_generated_secret_key_live_token_key_and_bootstrap_key(live: cluster.Cluster) -> None:
    objects = upgrade_render(live, {"bootstrapApiKey": {"enabled": True}})
    data = objects[f"Secret/{FULLNAME}"]["data"]
    assert {key: base64.b64decode(value).decode() for key, value in data.items()} == LIVE


def test_upgrades_do_not_roll_pods_without_a_change(live: cluster.Cluster) -> None:
    values = {"bootstrapApiKey": {"enabled": True}}
    first = upgrade_render(live, values)[f"Deployment/{FULLNAME}-api"]
    second = upgrade_render(live, values)[f"Deployment/{FULLNAME}-api"]
    annotations = [d["spec"]["template"]["metadata"]["annotations"] for d in (first, second)]
    assert annotations[0]["checksum/secret"] == annotations[1]["checksum/secret"]
    assert annotations[0]["checksum/config"] == annotations[1]["checksum/config"]


def test_a_key_missing_from_the_live_secret_is_generated(live: cluster.Cluster) -> None:
    """Enabling the bootstrap key later adds it without touching the kept secret key."""
    live.serve([live_secret({"django-secret-key": LIVE["django-secret-key"]})], NAMESPACE)
    try:
        data = upgrade_render(live, {"bootstrapApiKey": {"enabled": True}})[f"Secret/{FULLNAME}"]["data"]
    finally:
        live.serve([live_secret(LIVE)], NAMESPACE)
    assert base64.b64decode(data["django-secret-key"]).decode() == LIVE["django-secret-key"]
    assert base64.b64decode(data["bootstrap-api-key"]).decode() != LIVE["bootstrap-api-key"]
    # An upgrade from a release without the live counter gains its token key, once.
    assert len(base64.b64decode(data["live-token-key"])) == 64
