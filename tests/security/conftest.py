import os

import pytest

from tests.security.server import start_server, stop_server


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """One running API for the package: fuzzing, hostile inputs and admin checks share it."""
    live = start_server(tmp_path_factory.mktemp("security"), name=f"watchtime_security_{os.getpid()}")
    yield live
    stop_server(live)
