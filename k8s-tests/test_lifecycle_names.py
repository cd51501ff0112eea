"""Names and limits: for release names of 1, 27 and 53 characters (53 is Helm's maximum), every
object name, label value and name an operator derives from ours fits, or the render fails saying
which value to shorten."""

from __future__ import annotations

import re

import helm_python
import pytest
from chartlib import VALUE_SETS, load_value_set, render
from lifecycle import names

RELEASE_NAMES = {
    1: "w",
    27: "video-platform-production-1",
    53: "video-platform-production-eu-west-1-watchtime-primary",
}
assert all(len(name) == length for length, name in RELEASE_NAMES.items())
# A failed render must name the value that makes it fit.
SAYS_WHAT_TO_SHORTEN = re.compile(r"watchtime: .*(rabbitmqCluster\.name|fullnameOverride|nameOverride|release name)")


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
@pytest.mark.parametrize("length", sorted(RELEASE_NAMES))
def test_every_name_fits_or_the_render_says_what_to_shorten(value_set: str, length: int) -> None:
    try:
        release = render(load_value_set(value_set), release=RELEASE_NAMES[length])
    except helm_python.HelmError as error:
        assert SAYS_WHAT_TO_SHORTEN.search(str(error)), str(error)
        assert load_value_set(value_set).get("rabbitmqCluster", {}).get("enabled"), (
            f"only an operator-derived name may refuse a {length}-character release name: {error}"
        )
        return
    found = names.problems(release.objects)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("length", sorted(RELEASE_NAMES))
def test_a_short_rabbitmq_cluster_name_makes_any_release_name_fit(length: int) -> None:
    values = load_value_set("operator") | {"rabbitmqCluster": {**load_value_set("operator")["rabbitmqCluster"],
                                                               "name": "video-mq"}}
    release = render(values, release=RELEASE_NAMES[length])
    assert "video-mq" in release.kinds("RabbitmqCluster")
    found = names.problems(release.objects)
    assert not found, "\n".join(found)
    config = release.get("ConfigMap", next(iter(release.kinds("ConfigMap"))))["data"]
    assert config["RABBITMQ_URL"].startswith("amqp://video-mq.prod.svc:5672/")


def test_a_release_name_starting_with_a_digit_is_refused_clearly() -> None:
    """Service names are DNS-1035 labels: they must start with a letter."""
    with pytest.raises(helm_python.HelmError, match="start with a letter"):
        render({}, release="1video")
    assert names.problems(render({"fullnameOverride": "video"}, release="1video").objects) == []


# --- the model itself ------------------------------------------------------------------------------------------------

def test_the_model_derives_the_operators_names() -> None:
    cluster = {"kind": "RabbitmqCluster", "metadata": {"name": "video-platform-production-1-watchtime-rabbitmq"}}
    found = names.problems([cluster])
    assert any("controller-revision-hash" in problem for problem in found), found
    assert names.problems([{**cluster, "metadata": {"name": "x" * 45}}]) == []
    assert names.problems([{**cluster, "metadata": {"name": "x" * 46}}]) != []
    cnpg = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "p" * 55}}
    assert any("initdb" in problem for problem in names.problems([cnpg]))
    assert names.problems([{**cnpg, "metadata": {"name": "p" * 50}}]) == []
    assert names.problems([{"kind": "Service", "metadata": {"name": "9lives"}}]) != []
    assert names.problems([{"kind": "ScaledObject", "metadata": {"name": "s" * 64}}]) != []
    cronjob = {"kind": "CronJob", "metadata": {"name": "c" * 52}, "spec": {"jobTemplate": {"spec": {}}}}
    assert names.problems([cronjob]) == []
    found = names.problems([{**cronjob, "metadata": {"name": "c" * 53}}])
    assert any("CronJob name" in problem and "at most 52" in problem for problem in found), found
    assert any("made by the CronJob controller" in problem and "job-name" in problem for problem in found), found


def test_the_maintenance_cronjob_name_is_cut_to_fit_for_the_longest_release_name() -> None:
    """componentName keeps 50 characters of the full name: `-maintenance` on top would be 62 > 52."""
    release = render({}, release=RELEASE_NAMES[53])
    (name,) = release.kinds("CronJob")
    assert len(name) == 52 and name.endswith("-maintenance")
    assert release.get("NetworkPolicy", name)  # its policy carries the same name
