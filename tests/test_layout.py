"""The layering the code promises, checked on its imports (read with `ast`, not by running it, and
including imports inside functions): each package imports only what the table below allows (never
up, never sideways unless listed), no modules import each other in a circle, pika lives only in
the broker, the rule has no Django; and each module says what it owns and stays small."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # no services, no processes

SRC = Path(__file__).resolve().parent.parent / "src" / "watchtime"
MAX_MODULE_LINES = 300

# The import rule, bottom to top. A package (or top-level module) of src/watchtime may import
# itself, and what of ours its row names; anything else runs up or sideways.
RULE = ("rule",)  # the watch-time rule: pure Python, no Django
INFRASTRUCTURE = ("__init__", "env", "errors", "metrics", "patterns", "definitions", "timestamps", "ids", "jsonlog",
                  "health", "context", "db", "broker", "static_storage")
APPS = ("events", "analytics", "privacy", "apikeys")  # Django apps: their models, migrations, reads
TOP = ("api", "ops", "sdk", "dashboard", "cli", "settings", "urls", "wsgi", "gunicorn_conf", "client")
LAYERS = {**dict.fromkeys(RULE, "rule"), **dict.fromkeys(INFRASTRUCTURE, "infrastructure"), **dict.fromkeys(APPS, "apps"),
          "accounting": "accounting", **dict.fromkeys(TOP, "top")}
BELOW_APPS = {*RULE, *INFRASTRUCTURE}
MAY_IMPORT = {
    # layer rule
    "rule": set(),
    # layer infrastructure: nothing above it (and the broker no domain module: it moves bytes)
    **{name: BELOW_APPS for name in INFRASTRUCTURE},
    "ids": set(),  # the Python client imports it: the standard library only
    # layer apps: analytics and privacy point at the log's users, movies and streams (foreign
    # keys); never the reverse, never each other
    "events": BELOW_APPS,
    "analytics": BELOW_APPS | {"events"},
    "privacy": BELOW_APPS | {"events"},
    "apikeys": BELOW_APPS,
    # layer accounting: every write that moves a figure, over the apps whose tables it writes
    "accounting": BELOW_APPS | {"events", "analytics", "privacy"},
    # layer top: the HTTP layer, the process entry points, the SDK's files and the wiring
    "api": BELOW_APPS | {*APPS, "accounting"},
    "ops": BELOW_APPS | {*APPS, "accounting"},
    "sdk": BELOW_APPS,
    # the dashboard draws the API's answers: it calls the API's views in-process
    "dashboard": BELOW_APPS | {*APPS, "api"},
    "urls": BELOW_APPS | {"api", "sdk", "dashboard"},
    "settings": BELOW_APPS | {"apikeys"},  # the bootstrap key's format and scopes
    "cli": BELOW_APPS | {"apikeys"},  # `watchtime migrate` ensures the bootstrap key
    "wsgi": BELOW_APPS,
    "gunicorn_conf": BELOW_APPS,
    "client": {"ids"},  # the Python client: the standard library only
}


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = ("watchtime", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every name the module imports, at its top or inside a function: `from a import b` gives a
    and a.b (b may be a module)."""
    names = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


MODULES = {module_name(p): p for p in modules()}


def ours(names: set[str]) -> set[str]:
    """The modules of ours among imported names (each the longest module prefix of a name)."""
    found = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in MODULES:
            parts.pop()
        if parts:
            found.add(".".join(parts))
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_table_places_every_package_and_top_level_module():
    assert {package_of(m) for m in MODULES} == set(LAYERS) == set(MAY_IMPORT)


def test_no_import_runs_up_or_sideways():
    offenders = []
    for module, path in MODULES.items():
        package = package_of(module)
        for target in sorted(ours(imported(path))):
            other = package_of(target)
            if other != package and other not in MAY_IMPORT[package]:
                direction = "sideways" if LAYERS[other] == LAYERS[package] else "up or past the table"
                offenders.append(f"{module} ({LAYERS[package]}) imports {target} ({LAYERS[other]}): {direction}")
    assert offenders == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle():
    graph = {module: ours(imported(path)) - {module} for module, path in MODULES.items()}
    assert cycles(graph) == []


def test_the_circle_finder_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_broker_never_imports_the_domain():
    domain = ("watchtime.events", "watchtime.analytics", "watchtime.privacy", "watchtime.apikeys", "watchtime.accounting")
    offenders = {module: sorted(n for n in imported(path) if n.startswith(domain))
                 for module, path in MODULES.items() if package_of(module) == "broker"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pika_is_imported_only_under_the_broker_package():
    offenders = [module for module, path in MODULES.items() if package_of(module) != "broker" and any(
        n == "pika" or n.startswith("pika.") for n in imported(path))]
    assert offenders == []


def test_the_rule_imports_no_django_and_nothing_of_ours_but_itself():
    for module, path in MODULES.items():
        if package_of(module) == "rule":
            bad = [n for n in imported(path) if n.startswith("django") or (n.startswith("watchtime.") and not n.startswith("watchtime.rule"))]
            assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_each_module_says_what_it_owns_and_stays_small(path):
    tree = ast.parse(path.read_text())
    if path.name != "__init__.py" or tree.body:
        assert ast.get_docstring(tree), f"{path.relative_to(SRC)} has no docstring saying what it owns"
    if "management" not in path.parts:
        assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES
