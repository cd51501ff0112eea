"""The shipped alert rules pass Debian's real `promtool` (check + unit tests) and carry runbooks."""

import re
import subprocess

import yaml

from .artefacts import RULE_TESTS_FILE, RULES_FILE

SEVERITIES = {"warning", "critical"}


def test_promtool_check_rules_accepts_the_rule_file(prometheus_tools, alert_rules):
    result = subprocess.run([prometheus_tools["promtool"], "check", "rules", str(RULES_FILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules)} rules found" in result.stdout


def test_promtool_rule_unit_tests_pass(prometheus_tools):
    # rule_files in the test file are relative to it, so run from its directory.
    result = subprocess.run([prometheus_tools["promtool"], "test", "rules", RULE_TESTS_FILE.name],
                            cwd=RULE_TESTS_FILE.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_not_firing_unit_test(alert_rules):
    cases = [case for test in yaml.safe_load(RULE_TESTS_FILE.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in alert_rules:
        name = rule["alert"]
        own = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in own), f"{name}: no unit test where it fires"
        assert any(not case["exp_alerts"] for case in own), f"{name}: no unit test where it stays silent"
    tested = {case["alertname"] for case in cases}
    assert tested <= {rule["alert"] for rule in alert_rules}, "unit tests name alerts that do not exist"


def test_every_alert_routes_and_carries_a_runbook(alert_rules):
    for rule in alert_rules:
        name = rule["alert"]
        assert name.startswith("Watchtime"), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["labels"]["service"] == "watchtime", name
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), f"{name}: annotation {key} is empty"
        assert len(rule["annotations"]["runbook"]) > 80, f"{name}: runbook is not a runbook"


def test_rule_file_is_plain_yaml_without_helm_templating():
    # The chart embeds this file with .Files.Get; the only {{ }} allowed are Prometheus alert templates.
    text = RULES_FILE.read_text()
    assert yaml.safe_load(text).keys() == {"groups"}
    for template in re.findall(r"\{\{.*?\}\}", text):
        assert "$labels" in template or "$value" in template, f"not a Prometheus alert template: {template}"


# The selectors of "this service" that the chart's PrometheusRule replaces with one release's own.
SERVICE_SELECTORS = (
    'job="watchtime-api"',
    'job="watchtime-consumer"',
    'job=~"watchtime-(api|consumer)"',
    'pod=~"watchtime-(api|consumer)-.+"',
    'job="rabbitmq", vhost="/", queue=~"watch-time.*", queue!~".*\\\\.dead-letter"',
    'job="rabbitmq", vhost="/", queue=~"watch-time.*\\\\.dead-letter"',
    'cronjob="watchtime-maintenance"',
    'job_name=~"watchtime-maintenance-[0-9]+"',
)
SERIES = re.compile(r"\b(watchtime_\w+|django_http_\w+|rabbitmq_\w+|kube_(?:pod|job|cronjob)_\w+|up)\b(\{[^}]*\})?")


def test_every_selector_names_the_service_so_the_chart_can_scope_it_to_a_release(alert_rules):
    """Two releases must never see each other's series: each selector carries a spelling the chart replaces."""
    unscoped = []
    for rule in alert_rules:
        for metric, matchers in SERIES.findall(rule["expr"]):
            if not matchers or not any(selector in matchers for selector in SERVICE_SELECTORS):
                unscoped.append(f"{rule['alert']}: {metric}{matchers}")
    assert not unscoped, "\n".join(unscoped)
    header = RULES_FILE.read_text().split("groups:")[0]
    for selector in SERVICE_SELECTORS:
        assert selector in header, f"the header of the rule file must list {selector}"
