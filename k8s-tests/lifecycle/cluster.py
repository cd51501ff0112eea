"""A stand-in for the Kubernetes API that lets Helm's real `lookup` read a previous revision's Secrets.

Offline renders cannot show what `lookup` does (it returns nothing without a cluster), so the real
Helm library renders cluster-aware against this minimal server on 127.0.0.1: it answers API
discovery for core/v1 Secrets and serves the Secrets it was given; anything else is 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import helm_python


class _Handler(BaseHTTPRequestHandler):
    secrets: dict[tuple[str, str], dict[str, Any]] = {}

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
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["api", "v1"]:
            resource = {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": ["get"]}
            self._answer(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [resource]})
            return
        if len(parts) == 6 and parts[:2] == ["api", "v1"] and parts[2] == "namespaces" and parts[4] == "secrets":
            secret = self.secrets.get((parts[3], parts[5]))
            if secret is not None:
                self._answer(200, secret)
                return
        self._answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


class Cluster:
    """The stand-in's Secrets and a helm_python.Config pointed at it."""

    def __init__(self, config: helm_python.Config):
        self.config = config

    def serve(self, secrets: list[dict[str, Any]], namespace: str) -> None:
        """Replace the live Secrets with these (objects as a previous revision rendered them)."""
        _Handler.secrets = {
            (namespace, s["metadata"]["name"]): {**s, "metadata": {**s["metadata"], "namespace": namespace}}
            for s in secrets
        }

    def render(self, chart: helm_python.Chart, values: dict[str, Any], *, release: str, namespace: str,
               revision: int = 2) -> dict[str, str]:
        """`helm upgrade`'s render: lookup reads the served Secrets."""
        return self.config.render(chart, values, name=release, namespace=namespace, revision=revision, is_upgrade=True)


@contextmanager
def running(namespace: str) -> Iterator[Cluster]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = f"""apiVersion: v1
kind: Config
clusters: [{{name: local, cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}}}]
users: [{{name: local, user: {{token: test}}}}]
contexts: [{{name: local, context: {{cluster: local, user: local, namespace: {namespace}}}}}]
current-context: local
"""
    config = helm_python.Config(kubeconfig_content=kubeconfig, namespace=namespace)
    try:
        yield Cluster(config)
    finally:
        config.close()
        server.shutdown()
        _Handler.secrets = {}
