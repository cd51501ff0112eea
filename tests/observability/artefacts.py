"""Paths of the observability artefacts shipped in the chart, and their tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "watchtime"
RULES_FILE = CHART / "rules" / "watchtime-alerts.yaml"
DASHBOARD_FILE = CHART / "dashboards" / "watchtime.json"
RULE_TESTS_FILE = Path(__file__).resolve().parent / "watchtime-alerts.test.yaml"

# Every dashboard panel in exactly one class; the real-Prometheus test holds each class to its promise.
# Panels fed by the service itself: every query returns series while the service is under load.
PANELS_WITH_DATA_UNDER_LOAD = frozenset({
    "Events ingested /s",
    "HTTP 4xx / 5xx ratio",
    "Ingest rejects /s by reason",
    "Request latency by view (p50 / p95 / p99)",
    "Responses /s by status",
    "Broker publish latency (p50 / p99)",
    "Events processed /s by outcome",
    "Total computation latency (p50 / p95 / p99)",
    "Total computation latency heatmap",
    "Event lag p99 / p50 (accepted -> totals committed)",
    "Batch size",
    "Dead-lettered events /s",
    "Time since last consumer batch",
    "Metrics targets up",
    "Consumer ready",
    "Running versions",
    "Dependency reachability",
    "Analytics backfill pending",
    "Live viewers",
})
# Panels fed by RabbitMQ's rabbitmq_prometheus plugin: data whenever the broker is scraped.
PANELS_WITH_DATA_FROM_RABBITMQ = frozenset({
    "Messages ready / unacked",
    "Consumers on the queue",
    "Dead-letter queue depth",
})
# Panels fed by kube-state-metrics / cAdvisor: data only in Kubernetes, never in a local Prometheus.
PANELS_KUBERNETES_ONLY = frozenset({
    "Replicas (available / desired)",
    "Container restarts (increase over 1h)",
    "Pods not ready",
    "CPU by pod",
    "Memory working set by pod",
    "Time since last successful maintenance run",
})
