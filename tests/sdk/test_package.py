"""clients/js as npm would publish it: the declarations type-check against their use (TypeScript
pinned in package.json, installed on first run), the package holds exactly its modules, declarations
and README (not its unit tests), and the entry point imports without a DOM (server-side rendering
imports it too)."""

import json
import re
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "js"


def npm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(["npm", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def typescript():
    if not (PACKAGE / "node_modules" / "typescript").is_dir():
        npm("install", "--no-audit", "--no-fund")  # .npmrc: no lockfile is written
    assert not (PACKAGE / "package-lock.json").exists()


def test_declarations_type_check(typescript):
    npm("run", "check")


def test_the_package_holds_the_modules_their_declarations_and_readme():
    (packed,) = json.loads(npm("pack", "--dry-run", "--json").stdout)
    modules = ["watchtime-player.js", "watchtime-live-viewers.js"] + sorted(
        f"lib/{p.name}" for p in (PACKAGE / "lib").glob("*.js"))
    assert sorted(entry["path"] for entry in packed["files"]) == sorted(
        ["README.md", "package.json", "watchtime-player.d.ts", "watchtime-live-viewers.d.ts", *modules])


def test_imports_without_a_dom_and_exports_what_the_declarations_say():
    script = "import('./watchtime-player.js').then((m) => console.log(JSON.stringify(Object.keys(m).sort())))"
    result = subprocess.run(["node", "--input-type=module", "-e", script], cwd=PACKAGE, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["VERSION", "default", "track"]
    declarations = (PACKAGE / "watchtime-player.d.ts").read_text()
    for declared in ("export declare const VERSION", "export declare function track", "export default watchtime"):
        assert declared in declarations


def test_the_live_counter_imports_without_a_dom_and_exports_what_its_declarations_say():
    script = ("import('./watchtime-live-viewers.js').then((m) => console.log(JSON.stringify("
              "[Object.keys(m).sort(), typeof globalThis.customElements])))")
    result = subprocess.run(["node", "--input-type=module", "-e", script], cwd=PACKAGE, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    exported, custom_elements = json.loads(result.stdout)
    assert custom_elements == "undefined"  # and importing it did not fail for want of one
    declarations = (PACKAGE / "watchtime-live-viewers.d.ts").read_text()
    for name in exported:
        assert re.search(rf"^export declare (const|function|class) {name}\b", declarations, re.MULTILINE), name
