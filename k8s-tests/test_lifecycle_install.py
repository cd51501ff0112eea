"""Install phases: when Helm creates each object, everything its pods reference already exists.

For every ci/*-values.yaml and every production shape (external database and broker, with and
without existing secrets and bootstrap key, migrations as hooks or as a plain Job): `helm install`
(pre-install hooks, release objects, post-install hooks), `helm test` on the installed release, and
`helm upgrade` from a previous revision (whose objects exist at pre-upgrade, the new ones not yet).
Also what `--wait` (and Flux's helm-controller, which waits by default) waits for.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest
import yaml
from chartlib import VALUE_SETS, Rendered, dry_run_install, load_value_set, render
from lifecycle import phases
from lifecycle.inventory import Inventory, user_provided
from lifecycle.shapes import merged, production_shapes

SHAPES = {f"ci:{name}": load_value_set(name) for name in VALUE_SETS} | production_shapes()


@functools.cache
def release_of(shape: str) -> Rendered:
    return render(SHAPES[shape])


def given(*releases: Rendered) -> Inventory:
    """What the user created for these revisions (upgrades keep the previous revision's Secrets)."""
    inventory = Inventory()
    for release in releases:
        inventory = inventory.merged(user_provided(release.values))
    return inventory


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_pod_finds_what_it_references_when_helm_installs_it(shape: str) -> None:
    release = release_of(shape)
    found = phases.problems(phases.install_steps(release, given(release)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_helm_test_finds_what_it_references(shape: str) -> None:
    release = release_of(shape)
    steps = phases.test_steps(release, given(release))
    assert [phases.name_of(step.obj) for step in steps] == ["Pod/wt-watchtime-test"]
    found = phases.problems(steps)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_install_and_upgrade_with_wait_never_wait_for_a_later_hook(shape: str) -> None:
    """`helm install --wait` runs post-install hooks only once every workload is ready."""
    release = release_of(shape)
    found = phases.wait_deadlocks(release, "install") + phases.wait_deadlocks(release, "upgrade")
    assert not found, "\n".join(found)


# An upgrade that changes what exists before the new revision's objects: pre-upgrade hooks see
# only the previous revision's.
UPGRADES = {
    "same values": ({}, {}),
    "secret key existing -> generated": ({"secretKey": {"existingSecret": "watchtime-django"}}, {}),
    "secret key generated -> existing": ({}, {"secretKey": {"existingSecret": "watchtime-django"}}),
    "bootstrap key enabled (generated)": ({}, {"bootstrapApiKey": {"enabled": True}}),
    "bootstrap key existing -> generated": (
        {"bootstrapApiKey": {"enabled": True, "existingSecret": "watchtime-bootstrap"}},
        {"bootstrapApiKey": {"enabled": True}},
    ),
    "service account renamed": ({}, {"serviceAccount": {"name": "watchtime-runtime"}}),
    "user service account": ({}, {"serviceAccount": {"create": False, "name": "platform-sa"}}),
    "extra env Secret added": ({}, {"extraEnvVarsSecret": "watchtime-extra"}),
    "maintenance enabled": ({"maintenance": {"enabled": False}}, {}),
    "maintenance disabled": ({}, {"maintenance": {"enabled": False}}),
}
UPGRADE_BASES = ["ci:external", "ci:operator", "ci:defaults",
                 "mq=external,key=generated,bootstrap=generated,hooks=on"]


@pytest.mark.parametrize("base", UPGRADE_BASES)
@pytest.mark.parametrize("change", sorted(UPGRADES))
def test_pre_upgrade_hooks_find_what_the_previous_revision_left(base: str, change: str) -> None:
    before, after = UPGRADES[change]
    previous = render(merged(SHAPES[base], before))
    release = render(merged(SHAPES[base], after), revision=2, is_upgrade=True)
    found = phases.problems(phases.upgrade_steps(previous, release, given(previous, release)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_maintenance_cronjob_comes_with_the_release_and_finds_what_it_references(shape: str) -> None:
    """It reads the release's Secret and ServiceAccount and (in its init container) ConfigMap: created with
    the release objects, never as a pre-install hook, it finds them all."""
    release = release_of(shape)
    (step,) = [s for s in phases.install_steps(release, given(release)) if s.obj["kind"] == "CronJob"]
    assert step.phase == "install"
    assert step.problems() == []
    as_hook = copy.deepcopy(step.obj)
    as_hook["metadata"]["annotations"] = {"helm.sh/hook": "pre-install"}
    hooked = Rendered(release.name, release.values, [as_hook if o is step.obj else o for o in release.objects], "")
    early = [problem for problem in phases.problems(phases.install_steps(hooked, given(release)))
             if problem.startswith("pre-install: CronJob/")]
    assert any("ConfigMap" in problem for problem in early), "the model sees what a pre-install CronJob would miss"


def test_helm_orders_the_release_objects_as_the_model_does(chart_with_stand_ins: Path) -> None:
    """The model's kind order against Helm's own: the manifest of a dry-run install is in install order."""
    for values in (load_value_set("all-features"), load_value_set("gitops"), load_value_set("keda")):
        stored = dry_run_install(chart_with_stand_ins, values)
        helm_order = [(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(stored["manifest"]) if o]
        model = [(o["kind"], o["metadata"]["name"]) for o in phases.release_objects(render(values).objects)]
        assert sorted(helm_order) == sorted(model), "hooks and release objects are told apart as Helm does"
        ranks = [phases.kind_rank(kind) for kind, _ in helm_order]
        assert ranks == sorted(ranks), f"Helm created kinds in another order: {[kind for kind, _ in helm_order]}"


# --- the model itself ------------------------------------------------------------------------------------------------

def _job(name: str, account: str, events: str | None, weight: int = 0, secret: str | None = None) -> dict:
    annotations = {"helm.sh/hook": events, "helm.sh/hook-weight": str(weight)} if events else {}
    env = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}] if secret else []
    return {
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": {"spec": {"serviceAccountName": account, "containers": [{"name": "c", "env": env}]}}},
    }


def _object(kind: str, name: str, events: str | None = None, weight: int = 0, **body) -> dict:
    annotations = {"helm.sh/hook": events, "helm.sh/hook-weight": str(weight),
                   "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"} if events else {}
    return {"kind": kind, "metadata": {"name": name, "annotations": annotations}, **body}


def test_the_model_refuses_a_pre_install_hook_that_needs_a_release_object() -> None:
    release = Rendered("r", {"postgres": {"enabled": False}, "rabbitmq": {"enabled": False}}, [
        _object("ServiceAccount", "app"),
        _job("migrate", "app", "pre-install"),
    ], "")
    assert phases.problems(phases.install_steps(release, Inventory())) == [
        "pre-install: Job/migrate (hook weight 0): serviceAccountName: no ServiceAccount app exists at this moment"
    ]


def test_the_model_orders_hooks_by_weight_and_deletes_succeeded_ones_after_the_event() -> None:
    release = Rendered("r", {"postgres": {"enabled": False}, "rabbitmq": {"enabled": False}}, [
        _job("early", "hooked", "pre-install", weight=-10),  # runs before its ServiceAccount exists
        _object("ServiceAccount", "hooked", "pre-install", weight=-5),
        _object("Secret", "hooked", "pre-install", weight=-5, data={"k": "dg=="}),
        _job("migrate", "hooked", "pre-install", weight=0, secret="hooked"),
        _job("after", "hooked", "post-install", weight=0),  # the pre-install hooks are gone by then
    ], "")
    assert phases.problems(phases.install_steps(release, Inventory())) == [
        "pre-install: Job/early (hook weight -10): serviceAccountName: no ServiceAccount hooked exists at this moment",
        "post-install: Job/after (hook weight 0): serviceAccountName: no ServiceAccount hooked exists at this moment",
    ]


def test_the_model_knows_which_keys_a_secret_has() -> None:
    release = Rendered("r", {"postgres": {"enabled": False}, "rabbitmq": {"enabled": False}}, [
        _object("Secret", "own", data={"other": "dg=="}),
        _job("app", "default", None, secret="own"),
    ], "")
    (problem,) = phases.problems(phases.install_steps(release, user_provided({})))
    assert problem.endswith("container c env X: Secret own has no key k at this moment (it has ['other'])")
