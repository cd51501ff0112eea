"""The maintenance CronJob (`watchtime maintain`): schedule and run limits, the pod of every other pod,
the database wiring of the migrations Job without its bootstrap key, and nothing of the broker.
(Install phases, upgrades, names and its NetworkPolicy: the test_lifecycle_*.py files.)"""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
from chartlib import RELEASE, Rendered, load_value_set, pod_template, render, render_value_set

FULLNAME = f"{RELEASE}-watchtime"


def cronjob(release: Rendered) -> dict[str, Any]:
    return release.get("CronJob", f"{FULLNAME}-maintenance")


def maintain_container(release: Rendered) -> dict[str, Any]:
    (container,) = pod_template(cronjob(release))["spec"]["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def test_runs_hourly_never_twice_at_once_and_within_its_limits(defaults: Rendered) -> None:
    spec = cronjob(defaults)["spec"]
    assert spec["schedule"] == "17 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (2, 1800)
    assert job["activeDeadlineSeconds"] < 3600, "a run ends before the next one is due"
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert maintain_container(defaults)["args"] == ["maintain"]
    assert "helm.sh/hook" not in (cronjob(defaults)["metadata"].get("annotations") or {}), "an object of the release"


def test_every_value_set_runs_it_with_the_release_service_account(rendered: Rendered) -> None:
    spec = pod_template(cronjob(rendered))["spec"]
    assert spec["serviceAccountName"] == rendered.workload("api")["spec"]["template"]["spec"]["serviceAccountName"]
    assert spec["securityContext"] == rendered.workload("api")["spec"]["template"]["spec"]["securityContext"]
    (init,) = spec["initContainers"]
    assert init == rendered.workload("api")["spec"]["template"]["spec"]["initContainers"][0], "the same wait"


def test_it_gets_the_database_and_nothing_of_the_broker(rendered: Rendered) -> None:
    container = maintain_container(rendered)
    env = env_of(container)
    assert {"DATABASE_URL", "DATABASE_USER", "DATABASE_PASSWORD", "DJANGO_SECRET_KEY"} <= set(env)
    assert not [name for name in env if name.startswith("RABBITMQ_")]
    assert "WATCHTIME_BOOTSTRAP_API_KEY" not in env, "the migrations ensure the key; maintenance has no use for it"
    assert {"configMapRef": {"name": FULLNAME}} not in container.get("envFrom", []), "the ConfigMap holds RABBITMQ_URL"


def test_its_database_wiring_is_the_migrations_one() -> None:
    for value_set in ("defaults", "external", "operator", "gitops"):
        release = render_value_set(value_set)
        migrate = env_of(pod_template(release.workload("migrate"))["spec"]["containers"][0])
        maintain = env_of(maintain_container(release))
        for name in ("DATABASE_URL", "DATABASE_USER", "DATABASE_PASSWORD", "WATCHTIME_QUEUE", "WATCHTIME_LOG_LEVEL"):
            assert maintain[name] == migrate[name], (value_set, name)
    # The migrations hook reads a hook copy of the generated secret key; the CronJob runs after the install, from
    # the release Secret, which the hook copy mirrors.
    hooked = render({**load_value_set("external"), "secretKey": {"existingSecret": ""}})
    key = env_of(maintain_container(hooked))["DJANGO_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
    assert key == {"name": FULLNAME, "key": "django-secret-key"}


def test_its_values_reach_it() -> None:
    release = render({"maintenance": {
        "schedule": "@daily", "startingDeadlineSeconds": 3600, "activeDeadlineSeconds": 7200, "backoffLimit": 0,
        "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 5,
        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"memory": "1Gi"}},
        "podAnnotations": {"example.com/audit": "yes"},
    }, "podAnnotations": {"example.com/team": "video"}})
    spec = cronjob(release)["spec"]
    assert (spec["schedule"], spec["startingDeadlineSeconds"]) == ("@daily", 3600)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 5)
    assert (spec["jobTemplate"]["spec"]["backoffLimit"], spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]) == (0, 7200)
    assert maintain_container(release)["resources"]["limits"] == {"memory": "1Gi"}
    assert pod_template(cronjob(release))["metadata"]["annotations"] == {
        "example.com/audit": "yes", "example.com/team": "video"}
    labels = pod_template(cronjob(release))["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "maintenance"
    assert spec["jobTemplate"]["metadata"]["labels"]["app.kubernetes.io/component"] == "maintenance"


def test_disabled_renders_neither_it_nor_its_policy() -> None:
    release = render({"maintenance": {"enabled": False}})
    assert "CronJob" not in release.by_kind
    assert f"{FULLNAME}-maintenance" not in release.kinds("NetworkPolicy")
    assert "maintenance.enabled=false" in release.notes
    assert f"CronJob {FULLNAME}-maintenance" in render_value_set("defaults").notes


@pytest.mark.parametrize(("values", "message"), [
    ({"schedule": "hourly"}, "/maintenance/schedule"),
    ({"schedule": "17 * * *"}, "/maintenance/schedule"),
    ({"schedule": "TZ=Europe/Paris 17 * * * *"}, "/maintenance/schedule"),
    ({"startingDeadlineSeconds": 5}, "/maintenance/startingDeadlineSeconds"),
    ({"activeDeadlineSeconds": 0}, "/maintenance/activeDeadlineSeconds"),
    ({"failedJobsHistoryLimit": -1}, "/maintenance/failedJobsHistoryLimit"),
    ({"concurrencyPolicy": "Allow"}, "additional properties 'concurrencyPolicy'"),
])
def test_bad_maintenance_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=message):
        render({"maintenance": values})
