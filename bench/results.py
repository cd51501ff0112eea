"""Figures, their targets, and the result files (JSON for machines, Markdown for the README)."""

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str  # human-readable, e.g. ">= 10000"
    met: bool | None  # None: no target for this figure (a raw limit or context)
    raw_limit: float | None = None
    ratio_to_raw: float | None = None
    setup: str = ""
    samples: list[float] = field(default_factory=list)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def figure(
    name: str,
    samples: list[float],
    unit: str,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    raw_limit: float | None = None,
    min_ratio: float | None = None,
    max_ratio: float | None = None,
    worst: bool = False,
    setup: str = "",
) -> Figure:
    """The median of `samples` (with `worst`, the worst sample: the largest against an upper
    bound, else the smallest) as a Figure, judged against a lower or upper bound and against a
    least (`min_ratio`) or greatest (`max_ratio`, for costs) ratio to its raw limit (floor) when
    given. A ratio target without a measured raw limit cannot be judged: met is None."""
    if worst:
        value = max(samples) if at_most is not None or max_ratio is not None else min(samples)
    else:
        value = median(samples)
    ratio = None if not raw_limit else value / raw_limit
    targets, checks = [], []
    if at_least is not None:
        targets.append(f">= {at_least:g}")
        checks.append(value >= at_least)
    if at_most is not None:
        targets.append(f"<= {at_most:g}")
        checks.append(value <= at_most)
    if min_ratio is not None:
        targets.append(f">= {min_ratio:g} x raw")
        checks.append(None if ratio is None else ratio >= min_ratio)
    if max_ratio is not None:
        targets.append(f"<= {max_ratio:g} x raw")
        checks.append(None if ratio is None else ratio <= max_ratio)
    if worst and targets:
        targets[-1] += f" (worst of {len(samples)})"
    return Figure(name, value, unit, ", ".join(targets), judged(checks), raw_limit, ratio, setup, list(samples))


def judged(checks: list[bool | None]) -> bool | None:
    """Met: every check passed; not met: one failed; None: no target, or one could not be judged."""
    if not checks:
        return None
    if any(c is False for c in checks):
        return False
    return None if any(c is None for c in checks) else True


def write(directory: Path, machine: dict, figures: list[Figure]) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    payload = {"machine": machine, "figures": [_rounded(asdict(f)) for f in figures]}
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path.write_text(markdown(machine, figures))
    return json_path, md_path


def markdown(machine: dict, figures: list[Figure]) -> str:
    lines = [
        f"Benchmark run {machine.get('finished_at', '')} ({machine.get('mode', '')} mode) on "
        f"{machine.get('cpu_count')} cores ({machine.get('cpu_model', '?')}), "
        f"load average {machine.get('loadavg_start')} at start, {machine.get('loadavg_end')} at end; "
        f"PostgreSQL {machine.get('postgresql', '?')} (the bench's own cluster: "
        f"{', '.join(f'{k}={v}' for k, v in sorted(machine.get('postgresql_settings', {}).items()))}), "
        f"RabbitMQ {machine.get('rabbitmq', '?')}, "
        f"Python {machine.get('python', '?')}.{_api(machine.get('api'))} Every figure is the median of {machine.get('repeats')} runs "
        "(the worst one where the target says so); load generator and service share the same cores.",
        "",
        "| Figure | Value | Unit | Target | Met | Raw limit | Ratio to raw | Setup |",
        "|---|---:|---|---|---|---:|---:|---|",
    ]
    for f in figures:
        met = ("?" if f.target else "") if f.met is None else ("yes" if f.met else "**no**")
        lines.append(
            f"| {f.name} | {_fmt(f.value)} | {f.unit} | {f.target} | {met} | {_fmt(f.raw_limit)} | "
            f"{'' if f.ratio_to_raw is None else f'{f.ratio_to_raw:.2f}'} | {f.setup} |"
        )
    return "\n".join(lines) + "\n"


def _api(api: dict | None) -> str:
    """The API's settings in the run, and which the environment set instead of the product's defaults."""
    if not api:
        return ""
    text = (f" The API: gunicorn {api['workers']} workers x {api['threads']} threads, group commit wait {api['group_wait_ms']:g} ms, "
            f"single-event ingest over {api['ingest_connections']} connections")
    if overridden := api.get("set_by_environment"):
        text += " (set by the environment: " + ", ".join(f"{k}={v}" for k, v in sorted(overridden.items())) + ")"
    return text + "."


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _rounded(obj):
    if isinstance(obj, float):
        return float(f"{obj:.4g}") if abs(obj) < 1000 else round(obj, 1)
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj
