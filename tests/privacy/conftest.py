"""The broker fixtures of the events tests (a queue of the test's own, real consumer processes)."""

from tests.events.conftest import consumers, queue  # noqa: F401 (fixtures)
