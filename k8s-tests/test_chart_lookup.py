"""Generated secrets survive upgrades: Helm's `lookup` reads the live Secret back.

Offline renders cannot show this (lookup returns nothing without a cluster), so the real Helm
library renders cluster-aware against a minimal stand-in for the Kubernetes API on 127.0.0.1: it
answers API discovery for core/v1 Secrets and serves the one Secret a previous install left.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import helm_python
import pytest
import yaml
from chartlib import CHART_DIR, NAMESPACE, RELEASE

FULLNAME = f"{RELEASE}-watchtime"
LIVE = {"django-secret-key": "secret-key-of-the-first-install", "bootstrap-api-key": "wt_abcd1234_" + "k" * 40}


class KubernetesStandIn(BaseHTTPRequestHandler):
    live_secrets: dict[str, dict[str, Any]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        path = self.path.split("?")[0]
        prefix = f"/api/v1/namespaces/{NAMESPACE}/secrets/"
        if path == "/api/v1":
            resource = {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": ["get"]}
            self._answer(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [resource]})
        elif path.startswith(prefix) and path[len(prefix) :] in self.live_secrets:
            self._answer(200, self.live_secrets[path[len(prefix) :]])
        else:
            self._answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


@pytest.fixture(scope="module")
def cluster() -> Iterator[helm_python.Config]:
    KubernetesStandIn.live_secrets = {
        FULLNAME: {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": FULLNAME, "namespace": NAMESPACE},
            "type": "Opaque",
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in LIVE.items()},
        }
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), KubernetesStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = f"""apiVersion: v1
kind: Config
clusters: [{{name: local, cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}}}]
users: [{{name: local, user: {{token: test}}}}]
contexts: [{{name: local, context: {{cluster: local, user: local, namespace: {NAMESPACE}}}}}]
current-context: local
"""
    config = helm_python.Config(kubeconfig_content=kubeconfig, namespace=NAMESPACE)
    try:
        yield config
    finally:
        config.close()
        server.shutdown()


def upgrade_render(config: helm_python.Config, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with helm_python.Chart.load(CHART_DIR) as chart:
        manifests = config.render(chart, values, name=RELEASE, namespace=NAMESPACE, is_upgrade=True)
    objects = [
        doc
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_upgrade_keeps_the_generated_secret_key_and_bootstrap_key(cluster: helm_python.Config) -> None:
    objects = upgrade_render(cluster, {"bootstrapApiKey": {"enabled": True}})
    data = objects[f"Secret/{FULLNAME}"]["data"]
    assert {key: base64.b64decode(value).decode() for key, value in data.items()} == LIVE


def test_upgrades_do_not_roll_pods_without_a_change(cluster: helm_python.Config) -> None:
    values = {"bootstrapApiKey": {"enabled": True}}
    first = upgrade_render(cluster, values)[f"Deployment/{FULLNAME}-api"]
    second = upgrade_render(cluster, values)[f"Deployment/{FULLNAME}-api"]
    annotations = [d["spec"]["template"]["metadata"]["annotations"] for d in (first, second)]
    assert annotations[0]["checksum/secret"] == annotations[1]["checksum/secret"]
    assert annotations[0]["checksum/config"] == annotations[1]["checksum/config"]


def test_a_key_missing_from_the_live_secret_is_generated(cluster: helm_python.Config) -> None:
    """Enabling the bootstrap key later adds it without touching the kept secret key."""
    KubernetesStandIn.live_secrets[FULLNAME]["data"].pop("bootstrap-api-key", None)
    try:
        data = upgrade_render(cluster, {"bootstrapApiKey": {"enabled": True}})[f"Secret/{FULLNAME}"]["data"]
    finally:
        KubernetesStandIn.live_secrets[FULLNAME]["data"]["bootstrap-api-key"] = base64.b64encode(
            LIVE["bootstrap-api-key"].encode()
        ).decode()
    assert base64.b64decode(data["django-secret-key"]).decode() == LIVE["django-secret-key"]
    assert base64.b64decode(data["bootstrap-api-key"]).decode() != LIVE["bootstrap-api-key"]
