import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.consumers import consumers, queue  # noqa: F401 (fixtures)
from tests.security.server import create_database, drop_database
from tests.stacks import embedded_api, full_stack, page_origin, page_port  # noqa: F401 (fixtures)
from watchtime.apikeys.authentication import forget_cached_keys
from watchtime.apikeys.services import apikey_create

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_names = itertools.count(1)


def heartbeat(user="alice", slug="m1", at=0, ts: int | None = None, **extra) -> dict:
    """An ingest item; `ts` is seconds after T0."""
    event = {"user": user, "slug": slug, "at": at, **extra}
    if ts is not None:
        event["ts"] = (T0 + timedelta(seconds=ts)).isoformat().replace("+00:00", "Z")
    return event


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture
def make_client(db):
    """A client holding a fresh API key with the given scopes."""

    def make(*scopes: str) -> APIClient:
        _, raw_key = apikey_create(name=f"key-{next(_names)}", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


@pytest.fixture
def client_all(make_client) -> APIClient:
    return make_client("ingest", "read", "admin")


@pytest.fixture
def event_id():
    return lambda: str(uuid.uuid4())


@pytest.fixture
def scratch_database() -> str:
    """The URL of an empty PostgreSQL database of the test's own, for processes whose DDL (a prune
    dropping the log's oldest partitions, a migration from an old release) would outlive the flush
    between transactional tests."""
    name = f"watchtime_scratch_{uuid.uuid4().hex[:10]}"
    create_database(name)
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        drop_database(name)
