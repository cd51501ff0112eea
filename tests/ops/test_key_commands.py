"""`watchtime createkey`, `revokekey` and the bootstrap key, run as an operator runs them."""

import hashlib
import os
import re
import subprocess

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests import support
from watchtime.apikeys.authentication import forget_cached_keys
from watchtime.apikeys.models import ApiKey
from watchtime.apikeys.services import apikey_verify

pytestmark = pytest.mark.django_db(transaction=True)  # the commands see what the test wrote, and vice versa

KEY_RE = re.compile(r"wt_[0-9a-f]{8}_[A-Za-z0-9_-]{32}")


def watchtime(*args: str, **env: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WATCHTIME_LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.run([support.WATCHTIME, *args], env=environment, capture_output=True, text=True, timeout=60)


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_createkey_prints_the_key_once_and_stores_only_its_hash():
    created = watchtime("createkey", "--name", "player-1", "--scope", "ingest", "--scope", "read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert KEY_RE.fullmatch(key) and created.stdout == key + "\n"
    assert key not in created.stderr and "prefix" in created.stderr  # the note names the prefix only

    row = ApiKey.objects.get(name="player-1")
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.split("_")[1] == row.prefix and row.scopes == "ingest,read"
    secret = key.split("_", 2)[2]
    stored = [str(getattr(row, f.attname)) for f in ApiKey._meta.concrete_fields]
    assert not any(secret in value for value in stored)

    assert client_with(key).get("/movies/").status_code == 200
    assert client_with(key).post("/movies/", {"title": "t", "slug": "t"}, format="json").status_code == 403


def test_createkey_refuses_a_taken_name_a_bad_name_and_unknown_scopes():
    assert watchtime("createkey", "--name", "dup", "--scope", "read").returncode == 0
    again = watchtime("createkey", "--name", "dup", "--scope", "read")
    assert again.returncode != 0 and "already exists" in again.stderr and not KEY_RE.search(again.stdout)
    unknown = watchtime("createkey", "--name", "root", "--scope", "superuser")
    assert unknown.returncode != 0 and "invalid choice" in unknown.stderr
    for name in ("two words", "x" * 101, "'; DROP TABLE apikeys_apikey;--"):
        refused = watchtime("createkey", "--name", name, "--scope", "read")
        assert refused.returncode == 1 and "A key name is" in refused.stderr and "Traceback" not in refused.stderr
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["dup"]


def test_revokekey_takes_effect():
    key = watchtime("createkey", "--name", "leaked", "--scope", "read").stdout.strip()
    assert client_with(key).get("/movies/").status_code == 200

    revoked = watchtime("revokekey", "leaked")
    assert revoked.returncode == 0, revoked.stderr
    assert apikey_verify(raw_key=key) is None
    forget_cached_keys()  # what the 10 s cache does on its own in every API process
    response = client_with(key).get("/movies/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"

    unknown = watchtime("revokekey", "no-such-key")
    assert unknown.returncode != 0 and "No key named" in unknown.stderr


def test_bootstrap_key_is_idempotent_and_follows_its_scopes():
    key = "wt_boot1234_abcdefghijklmnopqrstuvwxyz"
    for _ in range(2):
        migrated = watchtime("migrate", WATCHTIME_BOOTSTRAP_API_KEY=key, WATCHTIME_BOOTSTRAP_API_KEY_SCOPES="ingest")
        assert migrated.returncode == 0, migrated.stderr
    (row,) = ApiKey.objects.filter(name="bootstrap")
    assert row.prefix == "boot1234" and row.scopes == "ingest" and row.revoked_at is None
    assert client_with(key).get("/movies/").status_code == 403

    migrated = watchtime("migrate", WATCHTIME_BOOTSTRAP_API_KEY=key, WATCHTIME_BOOTSTRAP_API_KEY_SCOPES="read,admin")
    assert migrated.returncode == 0, migrated.stderr
    forget_cached_keys()
    assert ApiKey.objects.get(name="bootstrap").scopes == "admin,read"
    assert client_with(key).get("/movies/").status_code == 200


def test_a_revoked_bootstrap_key_stays_revoked_until_replaced():
    leaked, fresh = "wt_leak1234_abcdefghijklmnopqrstuvwxyz", "wt_new01234_zyxwvutsrqponmlkjihgfedcba"
    assert watchtime("migrate", WATCHTIME_BOOTSTRAP_API_KEY=leaked).returncode == 0
    assert watchtime("revokekey", "bootstrap").returncode == 0

    redeploy = watchtime("migrate", WATCHTIME_BOOTSTRAP_API_KEY=leaked)  # the next deploy, same Secret
    assert redeploy.returncode == 0 and "stays revoked" in redeploy.stdout + redeploy.stderr
    assert apikey_verify(raw_key=leaked) is None

    assert watchtime("migrate", WATCHTIME_BOOTSTRAP_API_KEY=fresh).returncode == 0  # the Secret rotated
    assert apikey_verify(raw_key=fresh) is not None and apikey_verify(raw_key=leaked) is None
