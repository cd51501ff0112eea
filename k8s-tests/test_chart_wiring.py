"""Which role gets which setting: the analytics definitions and the retention in the shared configuration
(every role, the same values), the read replica and CORS for the API only. Set where expected, absent
where not, and refused with a message naming the value when wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import helm_python
import pytest
from chartlib import RELEASE, Rendered, load_value_set, pod_template, render, render_value_set
from lifecycle.shapes import merged

FULLNAME = f"{RELEASE}-watchtime"
ROLES = ("api", "consumer", "migrate", "maintenance")
ANALYTICS_ENV = {
    "WATCHTIME_VIEW_GAP_SECONDS": "1800",
    "WATCHTIME_VIEW_MIN_SECONDS": "10",
    "WATCHTIME_COMPLETION_RATIO": "0.9",
    "WATCHTIME_COMPLETED_PERCENT": "90",
    "WATCHTIME_RETENTION_RESOLUTION_SECONDS": "10",
    "WATCHTIME_LIVE_WINDOW_SECONDS": "30",
    "WATCHTIME_TIME_ZONE": "UTC",
}
EXTERNAL = load_value_set("external")


def environment(release: Rendered, component: str) -> dict[str, str]:
    """What the kubelet gives the role's main container: the chart ConfigMap it reads, then its env values."""
    container = pod_template(release.workload(component))["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if source.get("configMapRef", {}).get("name") == FULLNAME:
            env.update(release.get("ConfigMap", FULLNAME)["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", "<from a Secret>")
    return env


def test_every_role_gets_the_same_analytics_definitions(rendered: Rendered) -> None:
    """The consumers maintain the rollups with them, the API answers with them: one source for both."""
    shared = rendered.get("ConfigMap", FULLNAME)["data"]
    wanted = {key: shared[key] for key in ANALYTICS_ENV}
    if "analytics" not in rendered.values.get("config", {}):
        assert wanted == ANALYTICS_ENV, "the service's own defaults"
    for component in ROLES:
        env = environment(rendered, component)
        assert {key: env.get(key) for key in ANALYTICS_ENV} == wanted, component


def test_the_chart_defaults_are_the_service_defaults() -> None:
    """The service with none of these variables set uses the same definitions as the chart's defaults."""
    names = sorted(ANALYTICS_ENV)
    script = ("import json, django; from django.conf import settings; django.setup(); "
              f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))")
    env = {"DJANGO_SETTINGS_MODULE": "watchtime.settings", "DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    service = json.loads(result.stdout.strip().splitlines()[-1])
    assert {name: str(value) for name, value in service.items()} == ANALYTICS_ENV


def test_analytics_values_reach_every_role_as_written() -> None:
    analytics = {"viewGapSeconds": 1_000_000, "viewMinSeconds": 0, "completionRatio": 0.95,
                 "completedPercent": 100, "retentionResolutionSeconds": 3600, "liveWindowSeconds": 5,
                 "timeZone": "America/Argentina/Buenos_Aires"}
    release = render({"config": {"analytics": analytics, "maxCreditSeconds": 2_000_000}})
    for component in ROLES:
        env = environment(release, component)
        # Helm reads numbers as floats: 1000000 must not reach the service as "1e+06".
        assert env["WATCHTIME_VIEW_GAP_SECONDS"] == "1000000", component
        assert env["WATCHTIME_MAX_CREDIT_SECONDS"] == "2000000", component
        assert env["WATCHTIME_VIEW_MIN_SECONDS"] == "0"
        assert env["WATCHTIME_COMPLETION_RATIO"] == "0.95"
        assert env["WATCHTIME_COMPLETED_PERCENT"] == "100"
        assert env["WATCHTIME_RETENTION_RESOLUTION_SECONDS"] == "3600"
        assert env["WATCHTIME_LIVE_WINDOW_SECONDS"] == "5"
        assert env["WATCHTIME_TIME_ZONE"] == "America/Argentina/Buenos_Aires"


def test_a_changed_definition_rolls_api_and_consumer_together() -> None:
    before = render_value_set("external")
    after = render(merged(EXTERNAL, {"config": {"analytics": {"viewGapSeconds": 3600}}}))
    for component in ("api", "consumer"):
        checksum = [release.workload(component)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
                    for release in (before, after)]
        assert checksum[0] != checksum[1], component


@pytest.mark.parametrize(("values", "message"), [
    ({"viewGapSeconds": 0}, "/config/analytics/viewGapSeconds"),
    ({"viewMinSeconds": -1}, "/config/analytics/viewMinSeconds"),
    ({"completionRatio": 1.5}, "/config/analytics/completionRatio"),
    ({"completionRatio": "0.9"}, "/config/analytics/completionRatio"),
    ({"completedPercent": 0}, "/config/analytics/completedPercent"),
    ({"completedPercent": 101}, "/config/analytics/completedPercent"),
    ({"retentionResolutionSeconds": 3601}, "/config/analytics/retentionResolutionSeconds"),
    ({"liveWindowSeconds": 0}, "/config/analytics/liveWindowSeconds"),
    ({"timeZone": "Asia/Kathmandu; rm"}, "/config/analytics/timeZone"),
    ({"timeZone": ""}, "/config/analytics/timeZone"),
    ({"viewGapSecs": 60}, "additional properties 'viewGapSecs'"),
])
def test_analytics_values_out_of_range_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=message):
        render({"config": {"analytics": values}})


def test_event_retention_is_unset_by_default_and_the_same_for_every_role_when_set() -> None:
    for component in ROLES:
        assert "WATCHTIME_EVENT_RETENTION_DAYS" not in environment(render_value_set("defaults"), component)
    release = render({"config": {"eventRetentionDays": 400}})
    for component in ROLES:
        assert environment(release, component)["WATCHTIME_EVENT_RETENTION_DAYS"] == "400", component
    for bad in (0, -3, 1.5, "400"):
        with pytest.raises(helm_python.HelmValuesError, match="/config/eventRetentionDays"):
            render({"config": {"eventRetentionDays": bad}})


# --- the read replica: the API only ---------------------------------------------------------------------------------

def test_read_replica_goes_to_the_api_only() -> None:
    release = render(merged(EXTERNAL, {"externalDatabase": {"readHost": "pg-ro"}}))
    api = environment(release, "api")
    assert api["DATABASE_READ_URL"] == "postgres://pg-ro:5432/app", "same database and port as the primary"
    assert api["DATABASE_URL"] == "postgres://pg-rw:5432/app", "writes stay on the primary"
    assert "@" not in api["DATABASE_READ_URL"], "credentials: DATABASE_USER/DATABASE_PASSWORD, as for the primary"
    for component in ("consumer", "migrate", "maintenance"):
        assert "DATABASE_READ_URL" not in environment(release, component), component
    assert "DATABASE_READ_URL" not in release.get("ConfigMap", FULLNAME)["data"]


def test_read_replica_port_and_absence() -> None:
    operator = load_value_set("operator")  # primary on port 5433
    assert environment(render(merged(operator, {"externalDatabase": {"readHost": "pg-ro.db.svc"}})), "api")[
        "DATABASE_READ_URL"] == "postgres://pg-ro.db.svc:5433/watchtime", "readPort defaults to the primary's"
    assert environment(render(merged(operator, {"externalDatabase": {"readHost": "pg-ro.db.svc", "readPort": 6432}})),
                       "api")["DATABASE_READ_URL"] == "postgres://pg-ro.db.svc:6432/watchtime"
    for value_set in ("defaults", "external", "operator"):
        assert "DATABASE_READ_URL" not in environment(render_value_set(value_set), "api"), value_set


def test_read_replica_needs_the_external_database() -> None:
    with pytest.raises(helm_python.HelmError, match=r"externalDatabase\.readHost is a replica of the external database"):
        render({"externalDatabase": {"readHost": "pg-ro"}})
    with pytest.raises(helm_python.HelmValuesError, match="/externalDatabase/readPort"):
        render(merged(EXTERNAL, {"externalDatabase": {"readHost": "pg-ro", "readPort": 70000}}))


# --- CORS: the API only ---------------------------------------------------------------------------------------------

def test_cors_origins_go_to_the_api_only() -> None:
    origins = ["https://player.example.com", "http://localhost:3000", "https://[2001:db8::1]:8443"]
    release = render({"api": {"cors": {"allowedOrigins": origins}}})
    assert environment(release, "api")["WATCHTIME_CORS_ALLOWED_ORIGINS"] == ",".join(origins)
    for component in ("consumer", "migrate", "maintenance"):
        assert "WATCHTIME_CORS_ALLOWED_ORIGINS" not in environment(release, component), component
    assert "WATCHTIME_CORS_ALLOWED_ORIGINS" not in environment(render_value_set("defaults"), "api"), "none by default"
    assert release.get("NetworkPolicy", f"{FULLNAME}-api") == render({}).get("NetworkPolicy", f"{FULLNAME}-api"), (
        "the preflight takes the same way in as any request"
    )


@pytest.mark.parametrize("origin", [
    "https://player.example.com/",  # trailing slash: browsers never send one
    "https://player.example.com/embed",
    "player.example.com",
    "https://*.example.com",
    "*",
    "HTTPS://player.example.com",
    "https://Player.example.com",  # browsers lower-case the host: this would never match
    "https://player.example.com?x=1",
    "https://player.example.com:port",
])
def test_cors_entries_that_are_not_origins_are_refused_by_name(origin: str) -> None:
    with pytest.raises(helm_python.HelmError) as error:
        render({"api": {"cors": {"allowedOrigins": ["https://ok.example.com", origin]}}})
    message = str(error.value)
    assert f"api.cors.allowedOrigins[1] {origin!r}".replace("'", '"') in message, message
    assert "scheme://host[:port]" in message


def test_cors_origins_are_a_list_of_distinct_strings() -> None:
    for bad in ("https://a.example.com", ["https://a.example.com", "https://a.example.com"], [""]):
        with pytest.raises(helm_python.HelmValuesError, match="/api/cors/allowedOrigins"):
            render({"api": {"cors": {"allowedOrigins": bad}}})


def test_notes_explain_cors_only_when_it_is_on() -> None:
    notes = render({"api": {"cors": {"allowedOrigins": ["https://player.example.com"]}}}).notes
    assert "https://player.example.com" in notes
    assert "preflight" in notes and "NetworkPolicies are unchanged" in notes
    assert "ingest" in notes and "config.rateLimit" in notes
    assert "preflight" not in render_value_set("defaults").notes
