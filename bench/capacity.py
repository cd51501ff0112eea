"""A capacity model from a run's measured costs: `python -m bench.capacity [results.json]`.

Concurrent viewers each send a heartbeat every 10 s, one single-event `POST /` (a player has
nothing to batch with), so N viewers are N/10 requests and events per second. Each tier's
cores are the measured CPU per request or event times the rate, over a planned utilisation
(UTILISATION: headroom for peaks, rebalancing and the host). The API gathers the events of
concurrent requests into one message (group commit), so the consumers and PostgreSQL are costed
on the grouped messages the bench drains (GROUP_MESSAGE_EVENTS events of distinct streams each),
RabbitMQ per event on the API's own load. The consumer processes also come from the measured
rate of one process (it is bound by round trips, not CPU). PostgreSQL also writes WAL per event;
one primary is taken to stop being enough at PRIMARY_CORES cores or PRIMARY_WAL_MB_S of WAL,
whichever comes first (assumptions, not measurements: a large single machine, and a WAL rate its
disks, archiving and replicas keep up with).

A results file of a run before group commit (no grouped drain) is read with the old model's
inputs: the consumer and PostgreSQL costs of single-event messages.
"""

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

VIEWERS = (10_000, 100_000, 1_000_000)
HEARTBEAT_SECONDS = 10
UTILISATION = 0.6
POD_CORES = 2  # an API pod as measured: 2 gunicorn workers on 2 cores
PRIMARY_CORES = 32
PRIMARY_WAL_MB_S = 100
GROUP_MESSAGE_EVENTS = 10  # bench.core's; repeated here so the model needs no Django
# Targets of issue 22 at the largest size: every tier's cores together, and one primary for it.
TARGET_VIEWERS = 1_000_000
TARGET_CORES = 150
TARGET_PRIMARY_EVENTS_S = 100_000

_GROUPED = f"2 consumers, {GROUP_MESSAGE_EVENTS}-event messages"
INPUTS = {
    "api": "cost per request, single-event POST /: API workers CPU",
    "rabbitmq": "cost per request, single-event POST /: RabbitMQ CPU",
    "consumer": f"cost per event, {_GROUPED}: consumers CPU",
    "postgres": f"cost per event, {_GROUPED}: PostgreSQL CPU",
    "wal": f"cost per event, {_GROUPED}: WAL",
    "consumer_rate": f"consumer: 1 process, {GROUP_MESSAGE_EVENTS}-event messages",
}
# The model before group commit: the consumers fed single-event messages (one per request).
OLD_INPUTS = {
    **INPUTS,
    "consumer": "cost per event, 2 consumers, single-event messages: consumers CPU",
    "postgres": "cost per event, 2 consumers, single-event messages: PostgreSQL CPU",
    "wal": "cost per event, 2 consumers, single-event messages: WAL",
    "consumer_rate": "consumer: 1 process, single-event messages",
}
SOURCES = {"grouped": INPUTS, "single-event messages (a run before group commit)": OLD_INPUTS}


@dataclass
class Row:
    viewers: int
    rate: float  # events/s = requests/s
    api_cores: float
    api_pods: int
    rabbitmq_cores: float
    consumer_cores: float
    consumer_processes: int
    postgres_cores: float
    wal_mb_s: float
    one_primary: bool

    @property
    def cores(self) -> float:
        """Every tier's cores together (the API's, RabbitMQ's, the consumers' and PostgreSQL's)."""
        return self.api_cores + self.rabbitmq_cores + self.consumer_cores + self.postgres_cores


def source(figures: list[dict]) -> str:
    """Which inputs the run has: "grouped" (this model's), else the old model's; KeyError when neither."""
    names = {f["name"] for f in figures if f.get("value") is not None}
    for label, wanted in SOURCES.items():
        if set(wanted.values()) <= names:
            return label
    raise KeyError(f"the run lacks {sorted(set(INPUTS.values()) - names)}")


def inputs(figures: list[dict]) -> dict[str, float]:
    by_name = {f["name"]: f["value"] for f in figures}
    return {key: float(by_name[name]) for key, name in SOURCES[source(figures)].items()}


def model(costs: dict[str, float], viewers=VIEWERS) -> list[Row]:
    rows = []
    for n in viewers:
        rate = n / HEARTBEAT_SECONDS
        cores = {k: rate * costs[k] / 1e6 / UTILISATION for k in ("api", "rabbitmq", "consumer", "postgres")}
        wal = rate * costs["wal"] / 1e6
        processes = max(math.ceil(rate / (costs["consumer_rate"] * UTILISATION)), math.ceil(cores["consumer"]))
        rows.append(Row(n, rate, cores["api"], math.ceil(cores["api"] / POD_CORES), cores["rabbitmq"], cores["consumer"],
                        processes, cores["postgres"], wal, cores["postgres"] <= PRIMARY_CORES and wal <= PRIMARY_WAL_MB_S))
    return rows


def primary_limit(costs: dict[str, float]) -> tuple[float, str]:
    """Events/s at which one primary stops being enough, and what stops it."""
    by_cpu = PRIMARY_CORES * UTILISATION / (costs["postgres"] / 1e6)
    by_wal = PRIMARY_WAL_MB_S * 1e6 / costs["wal"]
    return (by_cpu, f"{PRIMARY_CORES} cores") if by_cpu < by_wal else (by_wal, f"{PRIMARY_WAL_MB_S} MB/s of WAL")


def targets(costs: dict[str, float]) -> list[tuple[str, float, dict, str]]:
    """The model's targets as (figure name, value, results.figure's target arguments, setup)."""
    (row,) = model(costs, viewers=(TARGET_VIEWERS,))
    limit, by = primary_limit(costs)
    return [
        (f"capacity: cores in all at {TARGET_VIEWERS:,} viewers", row.cores, {"at_most": TARGET_CORES},
         f"bench.capacity on this run's costs: API {row.api_cores:,.1f} + RabbitMQ {row.rabbitmq_cores:,.1f} + consumers "
         f"{row.consumer_cores:,.1f} + PostgreSQL {row.postgres_cores:,.1f} cores at {UTILISATION:.0%} utilisation"),
        ("capacity: events/s one PostgreSQL primary holds", limit, {"at_least": TARGET_PRIMARY_EVENTS_S},
         f"bench.capacity on this run's costs: bounded by {by} (assumed limits of one primary: {PRIMARY_CORES} cores, "
         f"{PRIMARY_WAL_MB_S} MB/s of WAL); {TARGET_VIEWERS:,} viewers are {TARGET_VIEWERS // HEARTBEAT_SECONDS:,} events/s"),
    ]


def markdown(costs: dict[str, float], label: str = "grouped") -> str:
    lines = [
        "| Concurrent viewers | Events/s | API cores (pods of 2) | RabbitMQ cores | Consumer cores (processes) | PostgreSQL cores "
        "| Cores in all | WAL MB/s | One primary |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in model(costs):
        lines.append(
            f"| {r.viewers:,} | {r.rate:,.0f} | {r.api_cores:,.1f} ({r.api_pods}) | {r.rabbitmq_cores:,.1f} | "
            f"{r.consumer_cores:,.1f} ({r.consumer_processes}) | {r.postgres_cores:,.1f} | {r.cores:,.1f} | {r.wal_mb_s:,.1f} | "
            f"{'yes' if r.one_primary else '**no**'} |"
        )
    limit, by = primary_limit(costs)
    grouped = (f"the consumers' and PostgreSQL's on {GROUP_MESSAGE_EVENTS}-event messages" if label == "grouped"
               else f"the consumers' and PostgreSQL's on {label}")
    lines += ["", f"Inputs (µs of CPU per request or event, WAL bytes per event, events/s of one consumer; {grouped}): "
              + ", ".join(f"{k} {v:,.0f}" for k, v in costs.items())
              + f". One primary stops at about {limit:,.0f} events/s ({limit * HEARTBEAT_SECONDS:,.0f} viewers), bounded by {by}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else Path(__file__).resolve().parent / "results" / "latest.json"
    figures = json.loads(path.read_text())["figures"]
    print(markdown(inputs(figures), source(figures)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
