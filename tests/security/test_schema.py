"""The OpenAPI schema itself: valid, no generator warnings, and every operation documents the
key it needs and the error answers it can give."""

import json
import os
import subprocess

from tests import support


def test_every_operation_needs_a_key_and_documents_its_errors(tmp_path):
    env = {**os.environ, "DJANGO_SECRET_KEY": "schema-test-" + "k" * 40}
    schema_file = tmp_path / "openapi.json"
    result = subprocess.run(
        [support.WATCHTIME, "manage", "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
         "--file", str(schema_file)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    schema = json.loads(schema_file.read_text())
    error = {"$ref": "#/components/schemas/Error"}
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 11
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        # The live count of one movie also takes its read-only token (docs/api.md, the embeddable counter).
        keys = [{"LiveToken": []}, {"ApiKey": []}] if path == "/movies/{movie_pk}/live/" else [{"ApiKey": []}]
        assert operation["security"] == keys, where
        for status in ("400", "401", "403", "429", "503"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == error, (where, status)
        for status in ("429", "503"):
            assert "Retry-After" in operation["responses"][status]["headers"], (where, status)
        if "{" in path:
            assert "404" in operation["responses"], where
        if method in ("post", "patch"):
            for status in ("413", "415"):
                assert status in operation["responses"], (where, status)
        if method == "post":  # an empty PATCH body is a valid no-op
            assert operation["requestBody"]["required"] is True, where
