"""The docs hold together: every relative link and anchor resolves, every table generated from
bench/results/ matches its results file, and every setting, metric and alert the code defines is
documented. No network, no services."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

from bench import report

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "charts" / "watchtime" / "README.md",
    ROOT / "clients" / "js" / "README.md",
]
OPERATIONS = ROOT / "docs" / "operations.md"

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked."""
    out, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if match := FENCE.match(line):
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif fence == marker:
                fence = None
            continue
        if fence is None:
            out.append((number, INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links as their text) in lower case, punctuation
    removed, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs (a repeated one gets -1, -2, ...)
    and explicit <a id/name> anchors."""
    found, seen = set(), {}
    text = path.read_text()
    fence = None
    for line in text.splitlines():
        if match := FENCE.match(line):
            marker = match.group(1)
            fence = marker if fence is None else (None if fence == marker else fence)
            continue
        if fence is not None:
            continue
        found.update(HTML_ANCHOR.findall(line))
        if match := HEADING.match(line):
            base = slug(match.group(2))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition outside code."""
    out = []
    for number, line in prose_lines(path.read_text()):
        out += [(number, target) for target in LINK.findall(line)]
        if match := REFERENCE.match(line):
            out.append((number, match.group(1)))
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(path):
        if SCHEME.match(target):
            continue  # a URL: no network here
        file_part, _, anchor = target.partition("#")
        destination = path if not file_part else (path.parent / file_part).resolve()
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{where}: no anchor #{anchor} in {destination.relative_to(root)}")
        elif anchor and destination.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    assert broken_links(path) == []


def test_the_readme_stays_an_entry_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Storage: what the log costs", "storage-what-the-log-costs"),
        ("An event's way to every figure", "an-events-way-to-every-figure"),
        ("The 503 contract", "the-503-contract"),
        ("`make test` and [its targets](docs/testing.md)", "make-test-and-its-targets"),
        ("Why the targets were not met (run of 2026-12-02, 09bde4d)", "why-the-targets-were-not-met-run-of-2026-12-02-09bde4d"),
        ("WatchtimeIngestWithoutConsumer", "watchtimeingestwithoutconsumer"),
        ("snake_case — kept", "snake_case--kept"),
    ],
)
def test_anchors_follow_githubs_slug_rules(heading, anchor):
    assert slug(heading) == anchor


def test_the_checker_finds_a_broken_link_and_a_missing_anchor(tmp_path):
    tmp = tmp_path.resolve()
    (tmp / "other.md").write_text("# Present\n\n## Twice\n\n## Twice\n")
    page = tmp / "page.md"
    page.write_text(
        "[ok](other.md#present) [ok](other.md#twice-1) [ok](#here) [url](https://example.com/x#y)\n"
        "# Here\n"
        "[gone](missing.md) [bad anchor](other.md#absent) `[in code](missing.md)`\n"
        "```\n[in a block](missing.md)\n```\n"
    )
    problems = broken_links(page, root=tmp)
    assert problems == ["page.md:3: missing.md: no such file", "page.md:3: other.md#absent: no anchor #absent in other.md"]


# --- tables generated from bench/results/ --------------------------------------------------------


def test_generated_tables_match_the_results_files():
    assert report.stale() == [], "regenerate the docs' tables: python -m bench.report"


def test_the_docs_have_the_generated_regions():
    found = {name for path in report.doc_files() for name in report.regions(path.read_text())}
    assert found == set(report.REGIONS)


def test_regenerating_is_idempotent():
    sources = report.Sources.load()
    for path in report.doc_files():
        once = report.render(path.read_text(), sources)
        assert report.render(once, sources) == once, path


def test_a_hand_edit_inside_a_generated_table_is_found(tmp_path):
    page = tmp_path / "performance.md"
    text = (ROOT / "docs" / "performance.md").read_text()
    start = text.index("<!-- generated: bench-results")
    edited = text[:start] + text[start:].replace("| yes |", "| **no** |", 1)
    page.write_text(edited)
    assert report.stale([page]) == [f"{page}: bench-results"]


def test_a_new_bench_run_without_regenerating_is_found():
    sources = report.Sources.load()
    figures = json.loads(json.dumps(sources.latest["figures"]))
    consumer = next(f for f in figures if f["name"] == "consumer: 1 process, 10-event messages")
    consumer["value"] *= 2
    machine = {**sources.latest["machine"], "finished_at": "2099-01-01T00:00:00Z"}  # a run of its own
    newer = dataclasses.replace(sources, latest={**sources.latest, "figures": figures, "machine": machine})
    stale = report.stale([ROOT / "docs" / "performance.md"], sources=newer)
    assert {item.rsplit(": ", 1)[1] for item in stale} >= {"bench-summary", "bench-results", "bench-capacity"}


def test_an_unknown_or_unclosed_region_is_refused():
    sources = report.Sources.load()
    with pytest.raises(report.RegionError, match="unknown region"):
        report.render("<!-- generated: no-such-table -->\n<!-- end generated -->\n", sources)
    with pytest.raises(report.RegionError, match="never closed"):
        report.render("<!-- generated: bench-floors -->\n| a |\n", sources)


# --- nothing the code defines goes undocumented --------------------------------------------------


def source_text() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "src" / "watchtime").rglob("*.py")))


def test_every_environment_variable_is_documented():
    names = set(re.findall(r"[\"']((?:DATABASE|RABBITMQ|WATCHTIME|DJANGO|GUNICORN|WEB|PROMETHEUS)_[A-Z0-9_]+|PORT)[\"']",
                           source_text()))
    names -= {"DJANGO_SETTINGS_MODULE"}  # Django's own, not a setting of watchtime
    documented = OPERATIONS.read_text()
    assert names, "no settings found: has src/ moved?"
    assert sorted(n for n in names if f"`{n}`" not in documented) == []


def test_every_metric_is_documented():
    found = re.findall(r"\b(Counter|Gauge|Histogram)\(\s*\"(watchtime_[a-z_]+)\"", source_text())
    names = {name + "_total" if kind == "Counter" else name for kind, name in found}
    documented = OPERATIONS.read_text()
    assert names, "no metrics found: has src/ moved?"
    assert sorted(n for n in names if f"`{n}" not in documented) == []


def test_every_alert_has_a_runbook_section():
    rules = (ROOT / "charts" / "watchtime" / "rules" / "watchtime-alerts.yaml").read_text()
    alerts = re.findall(r"^\s*- alert:\s*(\w+)", rules, re.MULTILINE)
    assert alerts
    assert sorted(a for a in alerts if a.lower() not in anchors(OPERATIONS)) == []
