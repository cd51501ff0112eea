"""Wiring of the rendered chart across the value-set matrix (real Helm rendering, no cluster)."""

from __future__ import annotations

import base64
import re
from typing import Any

import helm_python
import pytest
from chartlib import (
    RELEASE,
    Rendered,
    all_containers,
    load_value_set,
    pod_specs,
    pod_template,
    render,
    render_value_set,
)

FULLNAME = f"{RELEASE}-watchtime"
ROLE_ARGS = {"api": ["api"], "consumer": ["consumer"], "migrate": ["migrate"], "maintenance": ["maintain"]}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def secret_ref(container: dict[str, Any], name: str) -> tuple[str, str]:
    entry = env_of(container)[name]
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def main_container(release: Rendered, component: str) -> dict[str, Any]:
    return pod_template(release.workload(component))["spec"]["containers"][0]


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_one_image_for_every_role_and_the_right_args(rendered: Rendered) -> None:
    images = {container["image"] for _, spec in pod_specs(rendered) for container in all_containers(spec)}
    assert len(images) == 1, images
    for component, args in ROLE_ARGS.items():
        container = main_container(rendered, component)
        assert container["args"] == args
        assert "command" not in container, "the image ENTRYPOINT (watchtime) must stay in charge"


def test_image_reference_follows_tag_or_digest() -> None:
    assert main_container(render_value_set("defaults"), "api")["image"] == "ghcr.io/watchtime/watchtime:0.1.0"
    digest = load_value_set("all-features")["image"]["digest"]
    assert main_container(render_value_set("all-features"), "api")["image"] == (
        f"registry.example.com/video/watchtime@{digest}"
    )


def test_only_the_api_uses_prometheus_multiprocess_mode(rendered: Rendered) -> None:
    """The other roles would write metric files into a directory nobody created (or wiped)."""
    config = rendered.get("ConfigMap", FULLNAME)["data"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in config
    assert env_of(main_container(rendered, "api"))["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith("/tmp/")
    for component in ("consumer", "migrate", "maintenance"):
        assert "PROMETHEUS_MULTIPROC_DIR" not in env_of(main_container(rendered, component))


def test_wait_for_migrations_init_container_loops_on_migrate_check(rendered: Rendered) -> None:
    for component in ("api", "consumer", "maintenance"):
        spec = pod_template(rendered.workload(component))["spec"]
        (init,) = spec["initContainers"]
        assert init["command"][:2] == ["sh", "-c"]
        assert init["command"][2].startswith("until watchtime migrate --check; do")
        assert init["image"] == spec["containers"][0]["image"]


def test_migrations_hook_or_plain_job() -> None:
    # The in-cluster database exists only after the install created it, and a post-install hook would
    # deadlock `helm install --wait` (the pods wait for the migrations): a Job of the release instead.
    in_cluster = render_value_set("defaults").workload("migrate")
    assert "helm.sh/hook" not in in_cluster["metadata"].get("annotations", {})
    assert in_cluster["metadata"]["name"].startswith(f"{FULLNAME}-migrate-")
    external = render_value_set("external").workload("migrate")["metadata"]["annotations"]
    assert external["helm.sh/hook"] == "pre-install,pre-upgrade"
    plain = render_value_set("gitops").workload("migrate")
    assert "helm.sh/hook" not in plain["metadata"].get("annotations", {})
    assert plain["metadata"]["name"].startswith(f"{FULLNAME}-migrate-")
    # A new image means a new (immutable) Job.
    other = render({**load_value_set("gitops"), "image": {"tag": "9.9.9"}}).workload("migrate")
    assert other["metadata"]["name"] != plain["metadata"]["name"]


def test_hook_job_needs_nothing_the_release_creates_later() -> None:
    """At pre-install neither the ConfigMap nor the release Secret exists."""
    release = render_value_set("external")
    job = release.workload("migrate")
    container = main_container(release, "migrate")
    assert "envFrom" not in container
    referenced = {entry["valueFrom"]["secretKeyRef"]["name"] for entry in container["env"] if "valueFrom" in entry}
    assert referenced == {"pg-app", "watchtime-django", "watchtime-bootstrap"}
    assert job["metadata"]["annotations"]["helm.sh/hook"].startswith("pre-install")
    # `watchtime migrate` ensures the bootstrap API key.
    assert secret_ref(container, "WATCHTIME_BOOTSTRAP_API_KEY") == ("watchtime-bootstrap", "api-key")
    # With a generated secret key a pre-install hook brings its own hook-scoped Secret, created first.
    generated = render({**load_value_set("external"), "secretKey": {"existingSecret": ""}})
    name, key = secret_ref(main_container(generated, "migrate"), "DJANGO_SECRET_KEY")
    assert name != FULLNAME
    hook_secret = generated.get("Secret", name)
    assert key in hook_secret["data"]
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        generated.workload("migrate")["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    # A generated bootstrap key: the hook Secret carries the very value the release Secret gets, so
    # the migrations still run pre-install.
    bootstrap = render({**load_value_set("external"), "bootstrapApiKey": {"enabled": True, "existingSecret": ""}})
    assert bootstrap.workload("migrate")["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert secret_ref(main_container(bootstrap, "migrate"), "WATCHTIME_BOOTSTRAP_API_KEY") == (
        f"{FULLNAME}-migrate",
        "bootstrap-api-key",
    )
    hook_copy = bootstrap.get("Secret", f"{FULLNAME}-migrate")["data"]
    assert hook_copy["bootstrap-api-key"] == bootstrap.get("Secret", FULLNAME)["data"]["bootstrap-api-key"]
    # With every secret provided there is nothing to copy.
    assert f"{FULLNAME}-migrate" not in render_value_set("external").kinds("Secret")


def test_defaults_wire_the_subcharts_secrets() -> None:
    release = render_value_set("defaults")
    config = release.get("ConfigMap", FULLNAME)["data"]
    assert config["DATABASE_URL"] == "postgres://wt-postgres:5432/watchtime"
    assert config["RABBITMQ_URL"] == "amqp://wt-rabbitmq:5672/%2F"
    for component in ("api", "consumer"):
        container = main_container(release, component)
        assert secret_ref(container, "DATABASE_PASSWORD") == ("wt-postgres-custom-user-credentials", "CUSTOM_PASSWORD")
        assert env_of(container)["DATABASE_USER"]["value"] == "watchtime"
        assert secret_ref(container, "RABBITMQ_PASSWORD") == ("wt-rabbitmq", "password")
        assert env_of(container)["RABBITMQ_USERNAME"]["value"] == "watchtime"
        assert secret_ref(container, "DJANGO_SECRET_KEY") == (FULLNAME, "django-secret-key")
        assert secret_ref(container, "WATCHTIME_LIVE_TOKEN_KEY") == (FULLNAME, "live-token-key")


def test_subchart_existing_secrets_are_followed() -> None:
    release = render(
        {
            "postgres": {"customUser": {"existingSecret": "pg-custom", "secretKeys": {"password": "pw"}}},
            "rabbitmq": {"auth": {"existingSecret": "mq-auth", "existingPasswordKey": "rabbitmq-password"}},
        }
    )
    api = main_container(release, "api")
    assert secret_ref(api, "DATABASE_PASSWORD") == ("pg-custom", "pw")
    assert secret_ref(api, "RABBITMQ_PASSWORD") == ("mq-auth", "rabbitmq-password")


def test_external_services_read_operator_and_cnpg_secret_keys() -> None:
    release = render_value_set("external")
    config = release.get("ConfigMap", FULLNAME)["data"]
    assert config["DATABASE_URL"] == "postgres://pg-rw:5432/app"
    assert config["RABBITMQ_URL"] == "amqp://mq.messaging.svc:5672/watchtime"
    for url in (config["DATABASE_URL"], config["RABBITMQ_URL"]):
        assert "@" not in url, "credentials never go into URLs"
    api = main_container(release, "api")
    assert secret_ref(api, "DATABASE_USER") == ("pg-app", "username")
    assert secret_ref(api, "DATABASE_PASSWORD") == ("pg-app", "password")
    assert secret_ref(api, "RABBITMQ_USERNAME") == ("mq-default-user", "username")
    assert secret_ref(api, "RABBITMQ_PASSWORD") == ("mq-default-user", "password")
    assert secret_ref(api, "DJANGO_SECRET_KEY") == ("watchtime-django", "secret-key")
    assert secret_ref(api, "WATCHTIME_LIVE_TOKEN_KEY") == ("watchtime-django", "live-token-key")
    assert secret_ref(api, "WATCHTIME_BOOTSTRAP_API_KEY") == ("watchtime-bootstrap", "api-key")
    assert "WATCHTIME_BOOTSTRAP_API_KEY" not in env_of(main_container(release, "consumer"))
    bootstrap_key = base64.b64decode(
        render({"bootstrapApiKey": {"enabled": True}}).get("Secret", FULLNAME)["data"]["bootstrap-api-key"]
    ).decode()
    assert re.fullmatch(r"wt_[a-z0-9]{8}_[A-Za-z0-9]{40}", bootstrap_key), "the format `watchtime createkey` prints"
    # Nothing generated when every secret is provided.
    assert release.get("Secret", FULLNAME)["data"] in (None, {})
    assert "Secret" not in release.by_kind or set(release.kinds("Secret")) == {FULLNAME}


def test_operator_rabbitmqcluster_and_plain_username() -> None:
    release = render_value_set("operator")
    cluster = release.get("RabbitmqCluster", f"{FULLNAME}-rabbitmq")
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] == 3
    assert cluster["spec"]["persistence"]["storage"] == "20Gi"
    assert "vm_memory_high_watermark" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    config = release.get("ConfigMap", FULLNAME)["data"]
    assert config["RABBITMQ_URL"] == f"amqp://{FULLNAME}-rabbitmq.prod.svc:5672/%2F"
    assert config["DATABASE_URL"] == "postgres://pg-rw.db.svc:5433/watchtime"
    consumer = main_container(release, "consumer")
    assert secret_ref(consumer, "RABBITMQ_USERNAME") == (f"{FULLNAME}-rabbitmq-default-user", "username")
    assert secret_ref(consumer, "RABBITMQ_PASSWORD") == (f"{FULLNAME}-rabbitmq-default-user", "password")
    assert env_of(consumer)["DATABASE_USER"]["value"] == "watchtime_app"
    assert secret_ref(consumer, "DATABASE_PASSWORD") == ("pg-app", "pgpass")


def test_generated_secret_key_is_random_and_never_a_default() -> None:
    for key in ("django-secret-key", "live-token-key"):
        first = render_value_set("defaults").get("Secret", FULLNAME)["data"][key]
        second = render({}).get("Secret", FULLNAME)["data"][key]
        assert first != second, key
        assert len(base64.b64decode(first)) >= 50, key
    keys = render_value_set("keda").get("Secret", FULLNAME)["data"]
    assert set(keys) == {"django-secret-key", "live-token-key", "keda-rabbitmq-host", "keda-rabbitmq-vhost",
                         "keda-rabbitmq-username"}


def test_every_role_gets_the_live_token_key_and_the_hook_its_copy() -> None:
    """Production refuses to start without WATCHTIME_LIVE_TOKEN_KEY: every role that runs settings has it."""
    release = render_value_set("defaults")
    for component in ("api", "consumer", "migrate"):
        assert secret_ref(main_container(release, component), "WATCHTIME_LIVE_TOKEN_KEY")[1] == "live-token-key", component
    generated = render({**load_value_set("external"), "liveTokenKey": {"existingSecret": ""}})
    name, key = secret_ref(main_container(generated, "migrate"), "WATCHTIME_LIVE_TOKEN_KEY")
    assert (name, key) == (f"{FULLNAME}-migrate", "live-token-key")  # the pre-install hook's own copy ...
    assert generated.get("Secret", name)["data"][key] == generated.get("Secret", FULLNAME)["data"][key]  # ... the same


def test_no_passwords_in_values_or_plain_env(rendered: Rendered) -> None:
    for name, spec in pod_specs(rendered):
        for container in all_containers(spec):
            for entry in container.get("env", []):
                if any(word in entry["name"] for word in ("PASSWORD", "SECRET", "API_KEY")) and not entry[
                    "name"
                ].endswith("SCOPES"):
                    assert "valueFrom" in entry, f"{name}: {entry['name']} must come from a Secret"


def test_role_ports_and_probes(rendered: Rendered) -> None:
    api = main_container(rendered, "api")
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    assert ports == {"http": 8000, "metrics": 9100}
    env = env_of(api)
    assert env["PORT"]["value"] == "8000"
    assert env["WATCHTIME_METRICS_PORT"]["value"] == "9100"
    assert api["startupProbe"]["httpGet"]["path"] == "/livez"
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert api[probe]["httpGet"]["port"] == "http"
    consumer = main_container(rendered, "consumer")
    assert {port["name"]: port["containerPort"] for port in consumer["ports"]} == {"metrics": 9100}
    assert env_of(consumer)["WATCHTIME_METRICS_PORT"]["value"] == "9100"
    assert consumer["livenessProbe"]["httpGet"] == {**consumer["livenessProbe"]["httpGet"], "path": "/livez"}
    assert consumer["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert consumer[probe]["httpGet"]["port"] == "metrics"
        headers = {h["name"]: h["value"] for h in consumer[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in rendered.get("ConfigMap", FULLNAME)["data"]["DJANGO_ALLOWED_HOSTS"].split(",")


def test_probes_are_overridable() -> None:
    custom = {"exec": {"command": ["watchtime", "manage", "check"]}, "periodSeconds": 30}
    release = render(
        {
            "api": {"readinessProbe": {"periodSeconds": 7, "failureThreshold": 4}, "customLivenessProbe": custom},
            "consumer": {"startupProbe": {"enabled": False}},
        }
    )
    api = main_container(release, "api")
    assert api["readinessProbe"]["periodSeconds"] == 7
    assert api["readinessProbe"]["failureThreshold"] == 4
    assert api["livenessProbe"] == custom
    assert "startupProbe" not in main_container(release, "consumer")


def test_shutdown_timing(rendered: Rendered) -> None:
    api = rendered.workload("api")["spec"]["template"]["spec"]
    container = api["containers"][0]
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    graceful = int(env_of(container)["GUNICORN_GRACEFUL_TIMEOUT"]["value"])
    assert sleep + graceful + 5 <= api["terminationGracePeriodSeconds"]


def test_shutdown_timing_violation_fails_to_render() -> None:
    with pytest.raises(helm_python.HelmError, match="terminationGracePeriodSeconds"):
        render({"api": {"terminationGracePeriodSeconds": 30}})


def test_labels_and_selectors_are_consistent(rendered: Rendered) -> None:
    for component in ("api", "consumer", "migrate", "maintenance"):
        workload = rendered.workload(component)
        pod_labels = pod_template(workload)["metadata"]["labels"]
        assert pod_labels["app.kubernetes.io/name"] == "watchtime"
        assert pod_labels["app.kubernetes.io/instance"] == RELEASE
        assert pod_labels["app.kubernetes.io/component"] == component
        if workload["kind"] == "Deployment":
            assert selector_matches(workload["spec"]["selector"], pod_labels)
    api_pods = rendered.workload("api")["spec"]["template"]["metadata"]["labels"]
    consumer_pods = rendered.workload("consumer")["spec"]["template"]["metadata"]["labels"]
    api_service = rendered.get("Service", f"{FULLNAME}-api")
    assert selector_matches({"matchLabels": api_service["spec"]["selector"]}, api_pods)
    assert not selector_matches({"matchLabels": api_service["spec"]["selector"]}, consumer_pods)
    consumer_service = rendered.get("Service", f"{FULLNAME}-consumer")
    assert selector_matches({"matchLabels": consumer_service["spec"]["selector"]}, consumer_pods)
    for pdb in rendered.kinds("PodDisruptionBudget").values():
        component = pdb["metadata"]["labels"]["app.kubernetes.io/component"]
        pods = rendered.workload(component)["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(pdb["spec"]["selector"], pods)
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for scaler in rendered.kinds(kind).values():
            rendered.get("Deployment", scaler["spec"]["scaleTargetRef"]["name"])


def test_checksum_annotations_roll_pods_on_config_change() -> None:
    before = render_value_set("external").workload("api")["spec"]["template"]["metadata"]["annotations"]
    after = render({**load_value_set("external"), "config": {"logLevel": "DEBUG"}}).workload("api")
    after_annotations = after["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] != after_annotations["checksum/config"]
    assert before["checksum/secret"] == after_annotations["checksum/secret"]


def test_pdb_only_with_more_than_one_replica() -> None:
    def pdbs(values: dict[str, Any]) -> set[str]:
        return set(render(values).kinds("PodDisruptionBudget"))

    assert pdbs({}) == {f"{FULLNAME}-api"}  # api 2 replicas, consumer 1
    assert pdbs({"api": {"replicas": 1}}) == set()
    assert pdbs({"api": {"replicas": 1}, "consumer": {"replicas": 3}}) == {f"{FULLNAME}-consumer"}
    assert pdbs({"api": {"autoscaling": {"enabled": True, "minReplicas": 1}, "replicas": 5}}) == set()
    keda_to_zero = {"consumer": {"replicas": 4, "autoscaling": {"mode": "keda", "minReplicas": 0}}}
    assert f"{FULLNAME}-consumer" not in pdbs(keda_to_zero)
    hpa = {"consumer": {"autoscaling": {"mode": "hpa", "minReplicas": 2}}}
    assert f"{FULLNAME}-consumer" in pdbs(hpa)


def test_autoscaling_modes_are_exclusive(rendered: Rendered) -> None:
    consumer = f"{FULLNAME}-consumer"
    hpa = consumer in rendered.kinds("HorizontalPodAutoscaler")
    keda = consumer in rendered.kinds("ScaledObject")
    assert not (hpa and keda)
    deployment = rendered.get("Deployment", consumer)
    assert ("replicas" in deployment["spec"]) == (not hpa and not keda), "a scaler owns the replica count"


def test_keda_and_hpa_together_cannot_be_requested() -> None:
    for mode in ("hpa,keda", "both", ["hpa", "keda"], True):
        with pytest.raises(helm_python.HelmValuesError):
            render({"consumer": {"autoscaling": {"mode": mode}}})
    with pytest.raises(helm_python.HelmValuesError):
        render({"consumer": {"autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}}}})


def test_keda_scaledobject_and_trigger_authentication() -> None:
    release = render_value_set("keda")
    scaled = release.get("ScaledObject", f"{FULLNAME}-consumer")
    assert scaled["spec"]["minReplicaCount"] == 0
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert trigger["metadata"]["protocol"] == "amqp"
    assert trigger["metadata"]["queueName"] == "watch-time"
    assert trigger["metadata"]["value"] == "2000"
    assert "queueLength" not in trigger["metadata"], "deprecated, cannot be combined with mode/value"
    auth = release.get("TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"host", "username", "password", "vhostName"}
    consumer = main_container(release, "consumer")
    assert refs["password"] == secret_ref(consumer, "RABBITMQ_PASSWORD")
    secret = release.get("Secret", FULLNAME)["data"]
    host_url = base64.b64decode(secret[refs["host"][1]]).decode()
    assert host_url == release.get("ConfigMap", FULLNAME)["data"]["RABBITMQ_URL"]
    assert "@" not in host_url
    assert base64.b64decode(secret[refs["vhostName"][1]]).decode() == "/"
    assert base64.b64decode(secret[refs["username"][1]]).decode() == env_of(consumer)["RABBITMQ_USERNAME"]["value"]
    # With operator Secrets the user name comes from their key, not from the chart Secret.
    operator_keda = render({**load_value_set("operator"), "consumer": {"autoscaling": {"mode": "keda"}}})
    auth = operator_keda.get("TriggerAuthentication", f"{FULLNAME}-consumer")
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert refs["username"] == (f"{FULLNAME}-rabbitmq-default-user", "username")


def test_metrics_ports_are_matched_by_the_monitors() -> None:
    release = render_value_set("all-features")
    monitor = release.get("ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    matched = [s for s in release.kinds("Service").values() if selector_matches(monitor["spec"]["selector"], s["metadata"]["labels"])]
    assert {s["metadata"]["name"] for s in matched} == {f"{FULLNAME}-api", f"{FULLNAME}-consumer"}
    for service in matched:
        port = next(p for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        container = main_container(release, component)
        container_port = next(p for p in container["ports"] if p["name"] == port["targetPort"])
        assert str(container_port["containerPort"]) == env_of(container)["WATCHTIME_METRICS_PORT"]["value"]
    podmonitor_release = render({"metrics": {"podMonitor": {"enabled": True, "labels": {"team": "video"}}}})
    podmonitor = podmonitor_release.get("PodMonitor", FULLNAME)
    assert podmonitor["metadata"]["labels"]["team"] == "video"
    (endpoint,) = podmonitor["spec"]["podMetricsEndpoints"]
    for component in ("api", "consumer"):
        pod = podmonitor_release.workload(component)["spec"]["template"]
        assert selector_matches(podmonitor["spec"]["selector"], pod["metadata"]["labels"])
        assert endpoint["port"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert "ServiceMonitor" not in podmonitor_release.by_kind
    with pytest.raises(helm_python.HelmError, match="not both"):
        render({"metrics": {"podMonitor": {"enabled": True}, "serviceMonitor": {"enabled": True}}})


def test_ingress_tls_and_httproute_target_the_api_http_port() -> None:
    release = render_value_set("ingress-tls")
    ingress = release.get("Ingress", f"{FULLNAME}-api")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "watchtime-tls", "hosts": ["watchtime.example.com"]}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{FULLNAME}-api", "port": {"name": "http"}}
    config = release.get("ConfigMap", FULLNAME)["data"]
    assert "watchtime.example.com" in config["DJANGO_ALLOWED_HOSTS"].split(",")
    assert config["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://watchtime.example.com"
    assert "https://watchtime.example.com" in release.notes
    features = render_value_set("all-features")
    route = features.get("HTTPRoute", f"{FULLNAME}-api")
    assert route["spec"]["parentRefs"][0]["name"] == "public"
    (backend_ref,) = route["spec"]["rules"][0]["backendRefs"]
    service = features.get("Service", backend_ref["name"])
    http = next(p for p in service["spec"]["ports"] if p["port"] == backend_ref["port"])
    assert http["name"] == "http", "the HTTPRoute must never expose the metrics port"
    assert "watchtime.example.org" in features.get("ConfigMap", FULLNAME)["data"]["DJANGO_ALLOWED_HOSTS"]


def test_prometheus_rule_and_dashboard_come_from_the_chart_files() -> None:
    release = render_value_set("all-features")
    rule = release.get("PrometheusRule", FULLNAME)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"]["groups"], "alert groups from rules/watchtime-alerts.yaml"
    assert all(rule_["expr"] for group in rule["spec"]["groups"] for rule_ in group["rules"])
    dashboard = release.get("ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    import json

    assert json.loads(dashboard["data"]["watchtime.json"])["panels"]
    relabelled = render({"metrics": {"dashboard": {"enabled": True, "labels": {"my_dashboards": "yes"}}}})
    labels = relabelled.get("ConfigMap", f"{FULLNAME}-dashboard")["metadata"]["labels"]
    assert labels["my_dashboards"] == "yes"


def test_extra_env_volumes_and_scheduling() -> None:
    release = render_value_set("all-features")
    api_spec = release.workload("api")["spec"]["template"]["spec"]
    api = api_spec["containers"][0]
    assert {"EXTRA_GLOBAL", "EXTRA_API"} <= set(env_of(api))
    assert "EXTRA_API" not in env_of(main_container(release, "consumer"))
    assert {"secretRef": {"name": "watchtime-extra"}} in api["envFrom"]
    assert {"configMapRef": {"name": "watchtime-extra"}} in api["envFrom"]
    assert {m["mountPath"] for m in api["volumeMounts"]} == {"/tmp", "/etc/ssl/corporate"}
    assert api_spec["priorityClassName"] == "watchtime"
    assert api_spec["imagePullSecrets"] == [{"name": "regcred"}]
    (spread,) = api_spec["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    pod_annotations = release.workload("consumer")["spec"]["template"]["metadata"]["annotations"]
    assert pod_annotations["example.com/global"] == "yes"
    for obj in release.objects:
        assert obj["metadata"]["labels"]["team"] == "video", f"{obj['kind']}/{obj['metadata']['name']}"
    for component in ("api", "consumer", "migrate", "maintenance"):
        assert pod_template(release.workload(component))["metadata"]["labels"]["team"] == "video"


def test_exactly_one_database_and_broker() -> None:
    with pytest.raises(helm_python.HelmError, match="exactly one database"):
        render({"externalDatabase": {"host": "pg", "existingSecret": "pg"}})
    with pytest.raises(helm_python.HelmError, match="exactly one database"):
        render({"postgres": {"enabled": False}})
    with pytest.raises(helm_python.HelmError, match="exactly one broker"):
        render({"rabbitmqCluster": {"enabled": True}})
    with pytest.raises(helm_python.HelmError, match="existingSecret is required"):
        render({"postgres": {"enabled": False}, "externalDatabase": {"host": "pg"}})


def test_notes_tell_how_to_reach_the_api_and_create_a_key(defaults: Rendered) -> None:
    assert f"port-forward svc/{FULLNAME}-api" in defaults.notes
    assert f"exec deploy/{FULLNAME}-api -c api -- watchtime createkey --name" in defaults.notes
    assert "--scope ingest --scope read" in defaults.notes
    bootstrap = render({"bootstrapApiKey": {"enabled": True}})
    assert "bootstrap-api-key" in bootstrap.notes


def test_helm_test_pod_checks_readyz_through_the_service(rendered: Rendered) -> None:
    pod = rendered.get("Pod", f"{FULLNAME}-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    service = rendered.get("Service", f"{FULLNAME}-api")
    assert container["command"][-1] == f"http://{FULLNAME}-api:{service['spec']['ports'][0]['port']}/readyz"
    assert container["image"] == main_container(rendered, "api")["image"]


def test_gitops_renders_are_reproducible() -> None:
    """Argo CD / Flux compare renders: with existing Secrets and no hooks nothing may be random."""
    values = load_value_set("gitops")
    assert render(values).objects == render(values).objects


def test_api_and_consumer_share_one_autoscaling_shape() -> None:
    """`autoscaling.mode: hpa` means the same HorizontalPodAutoscaler for either component."""
    scaled = {"mode": "hpa", "minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 55}
    release = render({"api": {"autoscaling": scaled}, "consumer": {"autoscaling": scaled}})
    specs = {}
    for component in ("api", "consumer"):
        hpa = release.get("HorizontalPodAutoscaler", f"{FULLNAME}-{component}")
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{FULLNAME}-{component}"}
        assert "replicas" not in release.get("Deployment", f"{FULLNAME}-{component}")["spec"]
        specs[component] = {key: value for key, value in hpa["spec"].items() if key != "scaleTargetRef"}
        assert release.get("PodDisruptionBudget", f"{FULLNAME}-{component}")["spec"]["maxUnavailable"] == 1
    assert specs["api"] == specs["consumer"] == {
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 55}}}],
    }
    with pytest.raises(helm_python.HelmValuesError, match="/api/autoscaling/mode"):
        render({"api": {"autoscaling": {"mode": "keda"}}})  # KEDA scales the consumer on its queue only
    with pytest.raises(helm_python.HelmError, match="consumer.autoscaling.minReplicas must be at least 1 with mode hpa"):
        render({"consumer": {"autoscaling": {"mode": "hpa", "minReplicas": 0}}})


def test_deprecated_api_autoscaling_enabled_still_means_hpa_for_one_release() -> None:
    old = render({"api": {"autoscaling": {"enabled": True, "minReplicas": 3}}})
    new = render({"api": {"autoscaling": {"mode": "hpa", "minReplicas": 3}}})
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert old.get(kind, f"{FULLNAME}-api") == new.get(kind, f"{FULLNAME}-api")
    assert old.get("Deployment", f"{FULLNAME}-api")["spec"] == new.get("Deployment", f"{FULLNAME}-api")["spec"] | {
        "template": old.get("Deployment", f"{FULLNAME}-api")["spec"]["template"]
    }
    assert "replicas" not in old.get("Deployment", f"{FULLNAME}-api")["spec"]
    assert "DEPRECATED: api.autoscaling.enabled=true" in old.notes
    assert "api.autoscaling.mode=hpa" in old.notes
    assert "DEPRECATED" not in new.notes
    assert "DEPRECATED" not in render_value_set("defaults").notes


def test_migrations_and_maintenance_read_the_user_extras_like_every_pod() -> None:
    """Same envFrom helper as the api and consumer, minus the chart ConfigMap (inlined: for pre-install, and
    to keep the broker out of the maintenance)."""
    release = render_value_set("all-features")
    api = main_container(release, "api")["envFrom"]
    for component in ("migrate", "maintenance"):
        own = main_container(release, component)["envFrom"]
        assert own == [source for source in api if source != {"configMapRef": {"name": FULLNAME}}], component
        assert len(own) == 2
        assert "envFrom" not in main_container(render_value_set("external"), component)
