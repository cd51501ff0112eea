"""`python -m bench.report [--check]`: the tables of measured figures in the docs, written from bench/results/.

Every such table sits between two markers in README.md or docs/*.md:

    <!-- generated: NAME (python -m bench.report) -->
    ...
    <!-- end generated -->

and is rendered here from bench/results/latest.json (the last `make bench`),
bench/results/storage.json (the last `make bench-storage`), apply_cost.json (`python -m
bench.apply_cost`), premiere.json (`python -m bench.premiere`) and reads.json (`python -m bench
--only reads`), never typed by hand. Without arguments
every region is rewritten in place (run it after a bench run and commit the docs with the results);
with --check nothing is written, and the exit code is 1 when a region differs from what the results
give (tests/test_docs.py makes the same check, so a stale or hand-edited table fails the suite).
"""

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import apply_cost, capacity, premiere
from bench.results import Figure, markdown

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

START = re.compile(r"^<!-- generated: ([a-z0-9-]+)(?: [^>]*)? -->$")
END = "<!-- end generated -->"


def doc_files() -> list[Path]:
    """The files whose regions are generated: the README and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Sources:
    latest: dict  # bench/results/latest.json: {"machine": {...}, "figures": [...]}
    storage: dict  # bench/results/storage.json: {"setup", "bytes_per", "curve", "projection"}
    apply_cost: dict  # bench/results/apply_cost.json: {label: {"workloads": {...}}}
    premiere: dict  # bench/results/premiere.json
    reads: dict  # bench/results/reads.json: a `python -m bench --only reads` run, as latest.json

    @classmethod
    def load(cls, directory: Path = RESULTS_DIR) -> "Sources":
        names = ("latest", "storage", "apply_cost", "premiere", "reads")
        return cls(*(json.loads((directory / f"{name}.json").read_text()) for name in names))

    @property
    def figures(self) -> list[Figure]:
        return [Figure(**f) for f in self.latest["figures"]]


class RegionError(ValueError):
    """A marker that does not open or close a known region."""


# --- the regions ---------------------------------------------------------------------------------


def bench_summary(s: Sources) -> str:
    """Which run the tables come from, and what it did not meet."""
    m, figures = s.latest["machine"], s.figures
    judged = [f for f in figures if f.met is not None]
    missed = [f for f in judged if f.met is False]
    unjudged = [f for f in figures if f.target and f.met is None]
    lines = [
        f"Run of {m.get('finished_at', '?')} ({m.get('mode', '?')} mode, commit `{m.get('git_commit', '?')}`, "
        f"{_duration(m.get('duration_seconds'))}) on {m.get('cpu_count')} cores ({m.get('cpu_model', '?')}): "
        f"{len(figures)} figures, {len(judged) - len(missed)} targets met, {len(missed)} not met"
        + (f", {len(unjudged)} not judged (no floor measured)" if unjudged else "")
        + f"; the other {len(figures) - len(judged) - len(unjudged)} figures (raw limits, floors, costs, context) have no target.",
    ]
    if missed:
        lines += ["", "Not met in this run:", ""]
        for f in missed:
            ratio = "" if f.ratio_to_raw is None else f" ({f.ratio_to_raw:.2f} of the raw limit {_number(f.raw_limit)})"
            lines.append(f"- {f.name}: **{_number(f.value)} {f.unit}**{ratio}, target {f.target}")
    return "\n".join(lines)


FLOOR_COST = "cost per request, bare Django view: "


def bench_floors(s: Sources) -> str:
    """The machine's raw limits and the floors of the service's paths, measured in the same run."""
    lines = ["| Raw limit or floor | Value | Unit | Setup |", "|---|---:|---|---|"]
    for f in s.figures:
        if f.name.startswith("raw: "):
            lines.append(f"| {f.name.removeprefix('raw: ')} | {_number(f.value)} | {f.unit} | {f.setup} |")
        elif f.name.startswith(FLOOR_COST):  # the bare view's CPU per request: a floor too
            lines.append(f"| HTTP bare Django view, {f.name.removeprefix(FLOOR_COST)} per request | {_number(f.value)} | {f.unit} | {f.setup} |")
    return "\n".join(lines)


def bench_results(s: Sources) -> str:
    """Every figure of the run, as bench/results/latest.md has it."""
    return markdown(s.latest["machine"], s.figures).rstrip("\n")


def bench_capacity(s: Sources) -> str:
    """bench.capacity's model from the run's measured costs."""
    figures = s.latest["figures"]
    return capacity.markdown(capacity.inputs(figures), capacity.source(figures)).rstrip("\n")


STORAGE_LABELS = {
    "event": "event in the log (heap + its indexes)",
    "event id": "its id in `events_eventid` (the dedupe window)",
    "stream": "stream",
    "views and user rollups per stream": "views and user rollups, per hour-long stream",
    "concurrency runs per stream": "its played minutes (concurrency runs), per hour-long stream",
}


def storage_setup(s: Sources) -> str:
    setup = s.storage["setup"]
    per_day = setup["streams_per_day"] * setup["heartbeats_per_stream"]
    return (
        f"Last run: PostgreSQL {setup['postgres']}, {setup['days']} simulated days, retention {setup['retention_days']} "
        f"days, {per_day:,} events a day ({setup['streams_per_day']} hour-long streams of {setup['heartbeats_per_stream']} "
        f"in-order 10 s heartbeats by {setup['users']} users over {setup['movies']} movies)."
    )


def storage_per_row(s: Sources) -> str:
    lines = ["| Per | Bytes |", "|---|---:|"]
    lines += [f"| {STORAGE_LABELS.get(k, k)} | {v:,.0f} |" for k, v in s.storage["bytes_per"].items()]
    return "\n".join(lines)


def storage_soak(s: Sources) -> str:
    kept = ("streams", "views", "user rollups")
    catalogue = ("retention bins", "movie rollups")
    lines = [
        "| Day | Applied | Kept in the log | Log | Event ids | Streams, views, user rollups | Watch times "
        "| Retention bins, movie rollups | Database |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in s.storage["curve"]:
        size = c["bytes_by_group"]
        lines.append(
            f"| {c['day']} | {c['events_applied']:,} | {c['events_kept']:,} | {_mb(size['log'])} | {_mb(size['event ids'])} "
            f"| {_mb(sum(size[g] for g in kept))} | {_mb(size['watch times'])} | {_mb(sum(size[g] for g in catalogue))} "
            f"| {_mb(c['database_bytes'])} |"
        )
    return "\n".join(lines)


def storage_projection(s: Sources) -> str:
    rows = s.storage["projection"]
    days = round(rows[0]["log at the retention window (GB)"] / rows[0]["log per day (GB)"])
    lines = [
        f"| Concurrent viewers | Events/s | Log + ids per day | Log at {days} days' retention | Kept per day (streams, views, user rollups, played minutes) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for p in rows:
        lines.append(
            f"| {p['concurrent viewers']:,} | {p['events per second']:,.0f} | {_gb(p['log per day (GB)'])} "
            f"| {_gb(p['log at the retention window (GB)'])} | {_gb(p['kept figures per day (GB)'])} |"
        )
    return "\n".join(lines)


def apply_cost_table(s: Sources) -> str:
    """The apply path's cost per event of each label (a release, an issue's branch), side by side."""
    return (apply_cost.markdown(s.apply_cost) + "\n" + apply_cost.changes(s.apply_cost)).strip()


def reads_analytics(s: Sources) -> str:
    """The analytics, live and dashboard reads of the last reads-only run (newer than the full run's)."""
    figures = [Figure(**f) for f in s.reads["figures"] if f["name"].startswith(("analytics ", "dashboard "))]
    return markdown(s.reads["machine"], figures).rstrip("\n")


def premiere_table(s: Sources) -> str:
    """The premiere's peak, exactness and reads (its minute series stays in bench/results/premiere.md)."""
    return premiere.markdown(s.premiere, series=False).strip()


REGIONS: dict[str, Callable[[Sources], str]] = {
    "bench-summary": bench_summary,
    "bench-floors": bench_floors,
    "bench-results": bench_results,
    "bench-capacity": bench_capacity,
    "storage-setup": storage_setup,
    "storage-per-row": storage_per_row,
    "storage-soak": storage_soak,
    "storage-projection": storage_projection,
    "apply-cost": apply_cost_table,
    "reads-analytics": reads_analytics,
    "premiere": premiere_table,
}


# --- rewriting -----------------------------------------------------------------------------------


def render(text: str, sources: Sources) -> str:
    """`text` with every generated region's body rendered afresh from `sources`."""
    out, region = [], None
    for number, line in enumerate(text.split("\n"), 1):
        if region is None:
            out.append(line)
            if match := START.match(line.strip()):
                region = match.group(1)
                if region not in REGIONS:
                    raise RegionError(f"line {number}: unknown region {region!r} (known: {', '.join(REGIONS)})")
        elif line.strip() == END:
            out += [REGIONS[region](sources), line]
            region = None
        elif START.match(line.strip()):
            raise RegionError(f"line {number}: region opened inside {region!r}")
    if region is not None:
        raise RegionError(f"region {region!r} is never closed with {END}")
    return "\n".join(out)


def regions(text: str) -> list[str]:
    """The names of the regions in `text`, in order."""
    return [m.group(1) for line in text.split("\n") if (m := START.match(line.strip()))]


def stale(paths: list[Path] | None = None, sources: Sources | None = None) -> list[str]:
    """`path: region` for every region whose text differs from what the results give."""
    sources = sources or Sources.load()
    found = []
    for path in paths or doc_files():
        text = path.read_text()
        try:
            fresh = render(text, sources)
        except RegionError as exc:
            found.append(f"{_relative(path)}: {exc}")
            continue
        if fresh != text:
            old, new = _bodies(text), _bodies(fresh)
            found += [f"{_relative(path)}: {name}" for (name, body), (_, want) in zip(old, new, strict=True) if body != want]
    return found


def _bodies(text: str) -> list[tuple[str, str]]:
    bodies, region, lines = [], None, []
    for line in text.split("\n"):
        if region is None:
            if match := START.match(line.strip()):
                region, lines = match.group(1), []
        elif line.strip() == END:
            bodies.append((region, "\n".join(lines)))
            region = None
        else:
            lines.append(line)
    return bodies


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --- formatting ----------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    """As bench/results.py prints a figure: thousands separators from 100 on, else 3 significant digits."""
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _duration(seconds: float | None) -> str:
    return "duration not recorded" if seconds is None else f"{seconds:,.0f} s"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _gb(size: float) -> str:
    if size >= 1000:
        tb = size / 1000
        return f"{tb:.1f} TB" if tb < 100 else f"{tb:,.0f} TB"
    return f"{size:.0f} GB" if size >= 10 else f"{size:.1f} GB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a region is out of date")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="directory of latest.json and storage.json")
    args = parser.parse_args(argv)
    sources = Sources.load(args.results)
    if args.check:
        found = stale(sources=sources)
        for item in found:
            print(f"out of date: {item}", file=sys.stderr)
        if found:
            print("regenerate with: python -m bench.report", file=sys.stderr)
        return 1 if found else 0
    for path in doc_files():
        text = path.read_text()
        try:
            fresh = render(text, sources)
        except RegionError as exc:
            print(f"{_relative(path)}: {exc}", file=sys.stderr)
            return 2
        if fresh != text:
            path.write_text(fresh)
            print(f"rewrote {', '.join(regions(text))} in {_relative(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
