import os

import pytest

from tests.security.server import create_database, drop_database, start_server, stop_server


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """One running API for the package: fuzzing, hostile inputs and admin checks share it."""
    name = f"watchtime_security_{os.getpid()}"
    create_database(name)
    live = start_server(tmp_path_factory.mktemp("security"), name=name)
    yield live
    stop_server(live)
    drop_database(name)
