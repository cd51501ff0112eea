"""Loaded with `-p tests.markers` (pyproject's addopts) for tests/ and k8s-tests/ alike: every test
gets exactly one kind marker, which the Makefile's targets select by (`pytest -m unit`, ...).

A test (or its class or module, with `pytestmark`) may name its kind itself, as the pure modules
in a directory of service tests do; otherwise the first row below that its path starts with
gives it. Two kinds on one test fail the collection.
"""

from pathlib import Path

import pytest

# The kinds are declared (with what they mean) in pyproject.toml's markers.
KINDS = ("unit", "service", "browser", "faults", "chart", "image")
REPO = Path(__file__).resolve().parent.parent
BY_PATH = [
    ("tests/rule/", "unit"),  # the watch-time rule: pure functions
    ("tests/broker/", "unit"),  # the broker's bookkeeping without a broker
    ("tests/browser/", "browser"),
    ("tests/faults/", "faults"),
    ("tests/", "service"),
    ("k8s-tests/test_image", "image"),
    ("k8s-tests/", "chart"),
]


def kind_by_path(path: Path) -> str:
    relative = path.resolve().relative_to(REPO).as_posix()
    return next(kind for prefix, kind in BY_PATH if relative.startswith(prefix))


def pytest_collection_modifyitems(config, items):
    wrong = []
    for item in items:
        kinds = sorted({mark.name for mark in item.iter_markers() if mark.name in KINDS})
        if not kinds:
            item.add_marker(kind_by_path(item.path))
        elif len(kinds) > 1:
            wrong.append(f"{item.nodeid}: {', '.join(kinds)}")
    if wrong:
        raise pytest.UsageError("tests with more than one kind marker:\n" + "\n".join(wrong))
