"""Alerts in their real states: the rendered PrometheusRule of each release, evaluated by promtool over
the series a cluster would hold in that state (lifecycle/alerts.py says how they are labelled).

healthy: silent. Idle and scaled to zero by KEDA (with analytics still waiting for the backfill):
silent. Messages waiting and nothing consuming: fires. Consumer crash-looping: fires. Just upgraded,
backfilling in the background: silent; a backfill that never ends: fires. The last maintenance run
failed, or runs stopped being scheduled: fires. Two releases side by side, one broken: only that
one's alerts. (Every alert firing and silent on its own: tests/observability/watchtime-alerts.test.yaml.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chartlib import load_value_set, render
from lifecycle.alerts import expect_firing, release_state
from lifecycle.shapes import merged

MONITORED = {"metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}}
BACKLOG_ALERTS = {"WatchtimeQueueWithoutConsumers", "WatchtimeConsumerStalled", "WatchtimeIngestWithoutConsumer"}
CRASHLOOP_ALERTS = {"WatchtimePodCrashLooping", "WatchtimeConsumerStalled", "WatchtimePodNotReady"}
SHAPES = {
    "keda scale-to-zero": merged(load_value_set("keda"), MONITORED),
    "operator, PodMonitor": merged(load_value_set("operator"), {"metrics": {"podMonitor": {"enabled": True},
                                                                            "prometheusRule": {"enabled": True}}}),
}


def one_release(shape: str, namespace: str = "video", release: str = "wt"):
    return render(SHAPES[shape], release=release, namespace=namespace)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(("state", "firing"), [
    ("healthy", set()),
    ("idle", set()),  # KEDA scaled the consumer to zero with an empty queue: page nobody
    ("backlog", BACKLOG_ALERTS),  # messages waiting, nothing consuming them
    ("crashloop", CRASHLOOP_ALERTS),
    ("upgraded", set()),  # the consumers backfill the analytics within the hour
    ("backfill-stuck", {"WatchtimeAnalyticsBackfillStuck"}),
    ("maintenance-failed", {"WatchtimeMaintenanceFailed"}),  # the success before it is within 3 periods
    ("maintenance-unscheduled", {"WatchtimeMaintenanceOverdue"}),
])
def test_alerts_in_each_state(shape: str, state: str, firing: set[str], tmp_path: Path) -> None:
    release = one_release(shape)
    expect_firing([release], [release_state(release, state, "10.0.1")],
                  {(alert, "video/wt") for alert in firing}, tmp_path)


def test_two_releases_in_two_namespaces_one_broken_only_that_one_alerts(tmp_path: Path) -> None:
    healthy = one_release("keda scale-to-zero", namespace="video-a")
    broken = one_release("keda scale-to-zero", namespace="video-b")
    for healthy_state in ("healthy", "idle"):
        expect_firing([healthy, broken],
                      [release_state(healthy, healthy_state, "10.0.1"), release_state(broken, "backlog", "10.0.2")],
                      {(alert, "video-b/wt") for alert in BACKLOG_ALERTS}, tmp_path)


def test_two_releases_in_one_namespace_one_broken_only_that_one_alerts(tmp_path: Path) -> None:
    """Same namespace, each with its own queue on its own in-cluster broker."""
    a = render(merged(SHAPES["keda scale-to-zero"], {"config": {"queue": "watch-time"}}), release="wt-a",
               namespace="video")
    b = render(merged(SHAPES["keda scale-to-zero"], {"config": {"queue": "watch-time-b"}}), release="wt-b",
               namespace="video")
    expect_firing([a, b], [release_state(a, "idle", "10.0.1"), release_state(b, "crashloop", "10.0.2")],
                  {(alert, "video/wt-b") for alert in CRASHLOOP_ALERTS}, tmp_path)


def test_two_releases_in_one_namespace_only_the_one_whose_maintenance_fails_alerts(tmp_path: Path) -> None:
    """Each release's CronJob and its Jobs are told apart by name, in one namespace."""
    a = render(SHAPES["keda scale-to-zero"], release="wt-a", namespace="video")
    b = render(merged(SHAPES["keda scale-to-zero"], {"config": {"queue": "watch-time-b"}}), release="wt-b",
               namespace="video")
    expect_firing([a, b], [release_state(a, "maintenance-failed", "10.0.1"), release_state(b, "healthy", "10.0.2")],
                  {("WatchtimeMaintenanceFailed", "video/wt-a")}, tmp_path)
    expect_firing([a, b], [release_state(a, "healthy", "10.0.1"), release_state(b, "maintenance-unscheduled", "10.0.2")],
                  {("WatchtimeMaintenanceOverdue", "video/wt-b")}, tmp_path)


def test_without_the_cronjob_there_are_no_maintenance_alerts() -> None:
    release = render(merged(SHAPES["keda scale-to-zero"], {"maintenance": {"enabled": False}}))
    alerts = {rule["alert"] for group in release.get("PrometheusRule", "wt-watchtime")["spec"]["groups"]
              for rule in group["rules"]}
    assert alerts and not {alert for alert in alerts if alert.startswith("WatchtimeMaintenance")}
