"""The layering the code promises, checked on its imports (read with `ast`, not by running it):
the broker never imports the domain, pika lives only in the broker, the rule has no Django."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "watchtime"
MAX_MODULE_LINES = 300


def modules():
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def under(path: Path, package: str) -> bool:
    return path.relative_to(SRC).parts[0] == package


def test_the_broker_never_imports_the_domain():
    offenders = {
        str(p.relative_to(SRC)): sorted(n for n in imported(p) if n.startswith(("watchtime.events", "watchtime.apikeys")))
        for p in modules()
        if under(p, "broker")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pika_is_imported_only_under_the_broker_package():
    offenders = [str(p.relative_to(SRC)) for p in modules() if not under(p, "broker") and any(
        n == "pika" or n.startswith("pika.") for n in imported(p))]
    assert offenders == []


def test_the_rule_imports_no_django_and_nothing_of_ours_but_itself():
    for path in modules():
        if under(path, "rule"):
            bad = [n for n in imported(path) if n.startswith("django") or (n.startswith("watchtime.") and not n.startswith("watchtime.rule"))]
            assert bad == [], f"{path.relative_to(SRC)} imports {bad}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_each_module_says_what_it_owns_and_stays_small(path):
    tree = ast.parse(path.read_text())
    if path.name != "__init__.py" or tree.body:
        assert ast.get_docstring(tree), f"{path.relative_to(SRC)} has no docstring saying what it owns"
    if "management" not in path.parts:
        assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES
