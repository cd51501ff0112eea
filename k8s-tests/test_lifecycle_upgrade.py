"""Upgrades: revision N+1 rendered as `helm upgrade` renders it, against what revision N installed.

N is rendered as an install; N+1 as an upgrade whose `lookup` reads N's Secrets from the stand-in
Kubernetes API (lifecycle/cluster.py). For every change of the matrix: no immutable field changes
under the same name, generated secrets keep their values, and the pods that roll are exactly the
ones whose spec or whose data read from the chart's ConfigMap/Secret changed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from chartlib import NAMESPACE, RELEASE, Rendered, chart, load_value_set, parse_manifests, render
from lifecycle import cluster, upgrades
from lifecycle.phases import hook_events
from lifecycle.shapes import merged

FULLNAME = f"{RELEASE}-watchtime"
GENERATED_KEYS = ("django-secret-key", "bootstrap-api-key")

# What a user changes between two revisions; applied to each base value set below.
CHANGES: dict[str, dict[str, Any]] = {
    "nothing": {},
    "image tag": {"image": {"tag": "0.2.0"}},
    "image pull policy": {"image": {"pullPolicy": "Always"}},
    "log level (ConfigMap)": {"config": {"logLevel": "DEBUG"}},
    "rate limit (ConfigMap)": {"config": {"rateLimit": "100/s"}},
    "bootstrap key enabled": {"bootstrapApiKey": {"enabled": True}},
    "migrations resources": {"migrations": {"resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}}},
    "migrations pod annotations": {"migrations": {"podAnnotations": {"example.com/audit": "yes"}}},
    "pod annotations": {"podAnnotations": {"example.com/team": "video"}},
    "tolerations": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "video", "effect": "NoSchedule"}]},
    "priority class": {"priorityClassName": "watchtime-high"},
    "extra env": {"extraEnvVars": [{"name": "PGSSLMODE", "value": "require"}]},
    "pod security context": {"podSecurityContext": {"fsGroup": 20001}},
    "common labels": {"commonLabels": {"team": "video"}},
    "api replicas": {"api": {"replicas": 4}},
    "api autoscaling": {"api": {"autoscaling": {"mode": "hpa"}}},
    "consumer on KEDA": {"consumer": {"autoscaling": {"mode": "keda", "minReplicas": 0}}},
    "consumer prefetch": {"consumer": {"prefetch": 200}},
    "network policy destinations": {"networkPolicy": {"egressTo": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}},
    "event retention (ConfigMap)": {"config": {"eventRetentionDays": 400}},
    "analytics view gap (ConfigMap)": {"config": {"analytics": {"viewGapSeconds": 3600}}},
    "cors origins (api only)": {"api": {"cors": {"allowedOrigins": ["https://player.example.com"]}}},
    "maintenance schedule": {"maintenance": {"schedule": "*/30 * * * *", "activeDeadlineSeconds": 900}},
    "maintenance resources": {"maintenance": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}},
    "maintenance disabled": {"maintenance": {"enabled": False}},
}
BASES = ["defaults", "external", "gitops", "operator", "keda"]


@pytest.fixture(scope="module")
def live() -> Iterator[cluster.Cluster]:
    with cluster.running(NAMESPACE) as stand_in:
        yield stand_in


@functools.cache
def installed(base: str) -> Rendered:
    """Revision 1 of a base value set, as `helm install` rendered it (its random secrets included)."""
    return render(load_value_set(base))


def upgrade(live: cluster.Cluster, previous: Rendered, values: dict[str, Any]) -> Rendered:
    """Revision 2 as `helm upgrade` renders it, `lookup` reading revision 1's Secrets."""
    chart().validate_schema(values)
    live.serve([o for o in previous.objects if o["kind"] == "Secret" and not hook_events(o)], NAMESPACE)
    return parse_manifests(live.render(chart(), values, release=RELEASE, namespace=NAMESPACE), RELEASE, NAMESPACE, values)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_upgrade_changes_nothing_immutable_keeps_secrets_and_rolls_exactly_the_readers(
    live: cluster.Cluster, base: str, change: str
) -> None:
    previous = installed(base)
    release = upgrade(live, previous, merged(load_value_set(base), CHANGES[change]))
    found = (
        upgrades.immutable_changes(previous, release)
        + upgrades.generated_secret_changes(previous, release, FULLNAME, GENERATED_KEYS)
        + upgrades.rollout_mismatches(previous, release)
        + upgrades.hooks_not_recreatable(release)
    )
    assert not found, "\n".join(found)


@pytest.mark.parametrize("base", ["external", "operator"])
def test_upgrade_to_a_read_replica_rolls_only_the_api(live: cluster.Cluster, base: str) -> None:
    previous = installed(base)
    release = upgrade(live, previous, merged(load_value_set(base), {"externalDatabase": {"readHost": "pg-ro"}}))
    found = upgrades.immutable_changes(previous, release) + upgrades.rollout_mismatches(previous, release)
    assert not found, "\n".join(found)
    changed = {name for name, obj in upgrades.by_name(release.objects).items()
               if obj["kind"] == "Deployment" and obj != upgrades.by_name(previous.objects)[name]}
    assert changed == {f"Deployment/{FULLNAME}-api"}


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("change", ["image tag", "log level (ConfigMap)", "event retention (ConfigMap)",
                                    "maintenance schedule", "extra env", "pod security context"])
def test_the_maintenance_cronjob_keeps_its_name_while_its_job_template_changes(base: str, change: str) -> None:
    """Unlike a Job's template, a CronJob's is not immutable: patched in place, it applies to the next run
    (renaming it instead would lose its status, and with it the last successful run the alerts read)."""
    before = render(load_value_set(base)).workload("maintenance")
    after = render(merged(load_value_set(base), CHANGES[change])).workload("maintenance")
    assert after["metadata"]["name"] == before["metadata"]["name"]
    assert after["spec"] != before["spec"], "the change reaches the CronJob"


GITOPS_TEMPLATE_CHANGES = ["migrations resources", "migrations pod annotations", "pod annotations", "tolerations",
                           "priority class", "extra env", "image pull policy", "pod security context", "image tag",
                           "log level (ConfigMap)"]


@pytest.mark.parametrize("change", GITOPS_TEMPLATE_CHANGES)
def test_gitops_migrations_job_gets_a_new_name_whenever_its_pod_template_changes(change: str) -> None:
    """Argo CD and Flux apply the plain Job: a changed spec.template under the same name is refused."""
    values = load_value_set("gitops")
    before = render(values).workload("migrate")
    after = render(merged(values, CHANGES[change])).workload("migrate")
    assert before["spec"]["template"] != after["spec"]["template"], "the change reaches the Job's pod template"
    assert before["metadata"]["name"] != after["metadata"]["name"]
    assert len(after["metadata"]["name"]) <= 63


def test_gitops_migrations_job_keeps_its_name_when_its_pod_template_does_not_change() -> None:
    """Otherwise every unrelated change would run the migrations again (and leave a Job behind)."""
    values = load_value_set("gitops")
    before = render(values).workload("migrate")
    for change in ("api replicas", "consumer prefetch", "network policy destinations"):
        after = render(merged(values, CHANGES[change])).workload("migrate")
        assert after == before, change


# --- the model itself ------------------------------------------------------------------------------------------------

def _deployment(name: str, annotations: dict[str, str], secret_key: str | None = None, image: str = "a:1") -> dict:
    env = [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": secret_key}}}] if secret_key else []
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"annotations": annotations},
                         "spec": {"containers": [{"name": "c", "image": image, "env": env}]}},
        },
    }


def _secret(data: dict[str, str]) -> dict:
    return {"kind": "Secret", "metadata": {"name": "s"}, "data": data}


def test_the_model_catches_stale_and_needless_rollouts_and_immutable_changes() -> None:
    before = Rendered("r", {}, [_secret({"a": "MQ==", "b": "MQ=="}), _deployment("reads-a", {"checksum/secret": "1"}, "a"),
                                _deployment("reads-b", {"checksum/secret": "1"}, "b")], "")
    after = Rendered("r", {}, [_secret({"a": "Mg==", "b": "MQ=="}), _deployment("reads-a", {"checksum/secret": "1"}, "a"),
                               _deployment("reads-b", {"checksum/secret": "2"}, "b")], "")
    assert upgrades.rollout_mismatches(before, after) == [
        "Deployment/reads-a keeps its pods although what they read changed: [\"('Secret', 's', 'a')\"]",
        "Deployment/reads-b rolls although nothing it runs or reads changed",
    ]
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"image": "a:1"}]}}}}
    changed = {**job, "spec": {"template": {"spec": {"containers": [{"image": "a:2"}]}}}}
    assert upgrades.immutable_changes(Rendered("r", {}, [job], ""), Rendered("r", {}, [changed], "")) == [
        "Job/j: spec.template changed under the same name (the API server refuses: field is immutable)"
    ]
    cron = {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "1 * * * *", "jobTemplate": job["spec"]}}
    patched = {**cron, "spec": {"schedule": "2 * * * *", "jobTemplate": changed["spec"]}}
    assert upgrades.immutable_changes(Rendered("r", {}, [cron], ""), Rendered("r", {}, [patched], "")) == []
