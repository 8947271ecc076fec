"""charts/cano-collector: rendered with Helm's engine, validated against Kubernetes schemas,
and checked for what matters: least-privilege RBAC, a locked-down securityContext, config
and secret mounts, plugin mounts in every mode, and the restart-on-config-change checksum."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from chart_render import CHART, NAMESPACE, Rendered, render
from support import REPO

PLUGIN_ROOT = "/usr/lib/cano-collector/plugins"
# The shipped plugins, in the default image outside PLUGIN_ROOT (which init-copy mounts over).
BUILTIN = "/usr/lib/cano-collector/builtin"

SLACK_DESTINATION = {
    "name": "ops-slack",
    "type": "slack",
    "config": {"channel": "#alerts", "token_file": "/etc/cano-collector/secrets/slack-token"},
}

HA_VALUES: dict[str, Any] = yaml.safe_load((CHART / "examples" / "ha-values.yaml").read_text())

# Values combinations rendered and validated in full. Each is a realistic install.
COMBINATIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "HA example (examples/ha-values.yaml)": HA_VALUES,
    "image-volume plugins, chart secret, ServiceMonitor": {
        "config": {
            "cluster": "prod-eu",
            "destinations": [SLACK_DESTINATION],
            "default_destinations": ["ops-slack"],
            "extra": {"alertmanager": {"default_severity": "LOW"}},
        },
        "secrets": {"values": {"slack-token": "xoxb-test-not-a-real-token"}},
        "plugins": {
            "mode": "image-volume",
            "images": [{"name": "slack", "image": "ghcr.io/cano-collector/cano-plugin-slack:0.1.0"}],
            "volumes": [{"name": "in-house", "volume": {"persistentVolumeClaim": {"claimName": "cano-plugins"}}}],
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "init-copy plugins, existingSecret, no RBAC, single replica": {
        "replicaCount": 1,
        "podDisruptionBudget": {"enabled": False},
        "rbac": {"create": False},
        "serviceAccount": {"create": False, "name": "pre-made"},
        "secrets": {"existingSecret": "cano-destination-tokens"},
        "config": {"destinations": [SLACK_DESTINATION]},
        "plugins": {
            "mode": "init-copy",
            "images": [
                {"name": "slack", "image": "ghcr.io/cano-collector/cano-plugin-slack:0.1.0"},
                {"name": "pagerduty", "image": "registry.example/pagerduty:2.0", "pullPolicy": "Always"},
            ],
        },
    },
}

# Kinds from CRDs, which kubernetes-validate has no schema for; checked by hand below.
CRD_KINDS = {"ServiceMonitor"}


def validate_all(rendered: Rendered, version: str) -> None:
    for obj in rendered.objects:
        if obj["kind"] in CRD_KINDS:
            continue
        # strict: unknown fields are errors, as with `kubectl apply --validate=strict`.
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("name", COMBINATIONS)
@pytest.mark.parametrize("kube_version", ["1.33.0", kubernetes_validate.utils.latest_version()])
def test_every_manifest_validates_against_kubernetes_schemas(name: str, kube_version: str) -> None:
    rendered = render(COMBINATIONS[name])
    assert rendered.objects, "the chart rendered nothing"
    validate_all(rendered, kube_version)


def test_a_broken_manifest_is_caught_by_the_validator(defaults: Rendered) -> None:
    # The validation above would be worthless if it accepted anything.
    broken = copy.deepcopy(defaults.deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33.0", strict=True)


def test_servicemonitor_shape() -> None:
    rendered = render(COMBINATIONS["image-volume plugins, chart secret, ServiceMonitor"])
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == rendered.one("Service")["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert rendered.one("Service")["spec"]["ports"][0]["name"] == "http"


def test_default_objects(defaults: Rendered) -> None:
    kinds = sorted(o["kind"] for o in defaults.objects)
    assert kinds == sorted([
        "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PersistentVolumeClaim",
        "Role", "RoleBinding", "Service", "ServiceAccount",
    ])
    assert not defaults.of_kind("ServiceMonitor") and not defaults.of_kind("Secret")
    # One replica: a budget would only block node drains.
    assert defaults.deployment["spec"]["replicas"] == 1
    assert not defaults.of_kind("PodDisruptionBudget")


def test_lint_is_clean_in_strict_mode() -> None:
    report = helm.lint(CHART, strict=True, kube_version="v1.33.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


# --- RBAC ----------------------------------------------------------------------------------

def rules_as_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(apiGroup, resource, resourceName or "*", verb) for every combination a rule grants."""
    return {(group, resource, name, verb)
            for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for name in rule.get("resourceNames", ["*"])
            for verb in rule["verbs"]}


def documented_rbac() -> dict[str, dict[str, Any]]:
    """The ClusterRole and Role from the manifests in docs/rbac.md: the source of truth."""
    text = (REPO / "docs" / "rbac.md").read_text()
    block = text.split("## Manifests", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    return {doc["kind"]: doc for doc in yaml.safe_load_all(block) if doc}


def test_clusterrole_grants_exactly_what_docs_rbac_lists(defaults: Rendered) -> None:
    rules = defaults.one("ClusterRole")["rules"]
    assert rules_as_set(rules) == rules_as_set(documented_rbac()["ClusterRole"]["rules"])
    # And, independently of the doc: read-only, no Secret data, no wildcards.
    granted = rules_as_set(rules)
    assert ("", "secrets", "*", "get") not in granted
    assert {verb for *_, verb in granted} == {"get", "list", "watch"}
    assert not any("*" in r["verbs"] or "*" in r["resources"] or "*" in r["apiGroups"] for r in rules)
    assert not any("nonResourceURLs" in r for r in rules)
    assert ("", "pods", "*", "watch") in granted and ("", "pods/log", "*", "get") in granted


def test_leader_election_role_is_namespaced_and_limited_to_its_lease(defaults: Rendered) -> None:
    role = defaults.one("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert rules_as_set(role["rules"]) == rules_as_set(documented_rbac()["Role"]["rules"])
    assert rules_as_set(role["rules"]) == {
        ("coordination.k8s.io", "leases", "*", "create"),
        ("coordination.k8s.io", "leases", "cano-collector-leader", "get"),
        ("coordination.k8s.io", "leases", "cano-collector-leader", "update"),
    }
    renamed = render({"leaderElection": {"leaseName": "other-lease"}}).one("Role")
    assert ("coordination.k8s.io", "leases", "other-lease", "update") in rules_as_set(renamed["rules"])


def test_bindings_point_at_the_chart_service_account(defaults: Rendered) -> None:
    sa = defaults.one("ServiceAccount")["metadata"]["name"]
    assert defaults.pod["serviceAccountName"] == sa
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = defaults.one(kind)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
            "name": defaults.one(role_kind)["metadata"]["name"],
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]


def test_kubernetes_sources_are_configured_with_the_leased_name(defaults: Rendered) -> None:
    assert defaults.config["kubernetes"] == {
        "enabled": True, "leader_election": {"enabled": True, "lease_name": "cano-collector-leader"}}
    tuned = render({"kubernetes": {"settings": {"pods": {"namespaces": {"exclude": ["kube-system"]}}}},
                    "leaderElection": {"leaseName": "other-lease"}}).config["kubernetes"]
    assert tuned["pods"] == {"namespaces": {"exclude": ["kube-system"]}}
    assert tuned["leader_election"]["lease_name"] == "other-lease"


def test_no_cluster_permissions_without_kubernetes_sources() -> None:
    rendered = render({"kubernetes": {"enabled": False}})
    assert "kubernetes" not in rendered.config
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not rendered.of_kind(kind), kind


def test_rbac_and_service_account_can_be_brought_by_the_user() -> None:
    rendered = render(COMBINATIONS["init-copy plugins, existingSecret, no RBAC, single replica"])
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "PodDisruptionBudget"):
        assert not rendered.of_kind(kind), kind
    assert rendered.pod["serviceAccountName"] == "pre-made"


# --- security ------------------------------------------------------------------------------

def assert_locked_down(security_context: dict[str, Any]) -> None:
    assert security_context["runAsNonRoot"] is True
    assert security_context["runAsUser"] == 65532
    assert security_context["readOnlyRootFilesystem"] is True
    assert security_context["allowPrivilegeEscalation"] is False
    assert security_context["capabilities"] == {"drop": ["ALL"]}
    assert security_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in security_context


@pytest.mark.parametrize("name", COMBINATIONS)
def test_every_container_is_non_root_read_only_without_capabilities(name: str) -> None:
    rendered = render(COMBINATIONS[name])
    pod = rendered.pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod
    for container in pod["containers"] + pod.get("initContainers", []):
        assert_locked_down(container["securityContext"])


def test_writable_paths_are_volumes_because_the_root_filesystem_is_read_only(defaults: Rendered) -> None:
    mounts, volumes = defaults.mounts(), defaults.volumes()
    for path, volume in (("/var/lib/cano-collector", "data"), ("/tmp", "tmp")):
        assert mounts[path]["name"] == volume and not mounts[path].get("readOnly", False)
    assert "emptyDir" in volumes["tmp"]
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": defaults.one("PersistentVolumeClaim")["metadata"]["name"]}


def test_resources_and_probes(defaults: Rendered) -> None:
    container = defaults.container
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 9099, "protocol": "TCP"}]
    assert container["args"] == ["run", "--config", "/etc/cano-collector/config.yaml"]


# --- config, secrets, checksum ---------------------------------------------------------------

def test_config_is_rendered_into_the_configmap_and_mounted() -> None:
    rendered = render(COMBINATIONS["image-volume plugins, chart secret, ServiceMonitor"])
    config = rendered.config
    assert config["server"] == {"host": "0.0.0.0", "port": 9099}
    assert config["data_dir"] == "/var/lib/cano-collector"
    assert config["cluster"] == "prod-eu"
    assert config["destinations"] == [SLACK_DESTINATION]
    assert config["default_destinations"] == ["ops-slack"]
    assert config["alertmanager"] == {"default_severity": "LOW"}, "config.extra is merged at the top level"
    assert config["plugins"]["directories"] == [BUILTIN, f"{PLUGIN_ROOT}/slack", f"{PLUGIN_ROOT}/in-house"]
    mount = rendered.mounts()["/etc/cano-collector/config.yaml"]
    assert mount["readOnly"] and mount["subPath"] == "config.yaml"
    assert rendered.volumes()[mount["name"]]["configMap"]["name"] == rendered.one("ConfigMap")["metadata"]["name"]


def checksum(rendered: Rendered, key: str = "checksum/config") -> str | None:
    return rendered.deployment["spec"]["template"]["metadata"]["annotations"].get(key)


def test_checksum_annotation_changes_with_the_config_and_only_then(defaults: Rendered) -> None:
    base = checksum(defaults)
    assert base and len(base) == 64
    assert checksum(render({"config": {"cluster": "other"}})) != base
    assert checksum(render({"config": {"destinations": [SLACK_DESTINATION]}})) != base
    # Relabelling the pods is not a config change, nor is scaling the shared-store replicas.
    assert checksum(render({"podLabels": {"team": "sre"}})) == base
    assert checksum(render({})) == base, "rendering is deterministic"
    ha = checksum(render(HA_VALUES))
    assert ha != base
    assert checksum(render({**HA_VALUES, "replicaCount": 5})) == ha


def test_chart_made_secret_is_mounted_and_checksummed() -> None:
    values = COMBINATIONS["image-volume plugins, chart secret, ServiceMonitor"]
    rendered = render(values)
    secret = rendered.one("Secret")
    assert secret["stringData"] == {"slack-token": "xoxb-test-not-a-real-token"}
    mount = rendered.mounts()["/etc/cano-collector/secrets"]
    assert mount["readOnly"] is True
    assert rendered.volumes()[mount["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    # The token is referenced by file, never copied into the ConfigMap.
    assert "xoxb-test" not in rendered.one("ConfigMap")["data"]["config.yaml"]
    rotated = copy.deepcopy(values)
    rotated["secrets"]["values"]["slack-token"] = "xoxb-rotated"
    assert checksum(render(rotated), "checksum/secret") != checksum(rendered, "checksum/secret")


def test_existing_secret_is_mounted_instead_of_creating_one() -> None:
    rendered = render({"secrets": {"existingSecret": "cano-destination-tokens", "values": {"ignored": "x"}}})
    assert not rendered.of_kind("Secret")
    mount = rendered.mounts()["/etc/cano-collector/secrets"]
    assert rendered.volumes()[mount["name"]]["secret"]["secretName"] == "cano-destination-tokens"
    assert checksum(rendered, "checksum/secret") is None


def test_default_config_delivers_somewhere(defaults: Rendered) -> None:
    # The collector refuses a config with no destinations; the default prints to the log.
    config = defaults.config
    assert config["destinations"] == [{"name": "stdout", "type": "file", "config": {"path": "-"}}]
    assert config["default_destinations"] == ["stdout"]


def test_default_destinations_follow_the_destinations_unless_routed() -> None:
    # Helm replaces lists: a user's own destinations must not leave a dangling "stdout".
    assert render({"config": {"destinations": [SLACK_DESTINATION]}}).config["default_destinations"] == ["ops-slack"]
    routes = [{"matchers": ["severity=critical"], "destinations": ["ops-slack"]}]
    routed = render({"config": {"destinations": [SLACK_DESTINATION], "routes": routes}}).config
    assert routed["default_destinations"] == [] and routed["routes"] == routes


def test_no_secret_volume_without_secrets(defaults: Rendered) -> None:
    assert "/etc/cano-collector/secrets" not in defaults.mounts()


def test_a_bad_secret_key_is_refused_with_its_name() -> None:
    with pytest.raises(helm.HelmError, match="not/a-file"):
        render({"secrets": {"values": {"not/a-file": "x"}}})


# --- plugins -------------------------------------------------------------------------------

def test_image_volume_mode_mounts_each_plugin_image() -> None:
    rendered = render(COMBINATIONS["image-volume plugins, chart secret, ServiceMonitor"])
    volumes, mounts = rendered.volumes(), rendered.mounts()
    assert volumes["plugin-slack"]["image"] == {
        "reference": "ghcr.io/cano-collector/cano-plugin-slack:0.1.0", "pullPolicy": "IfNotPresent"}
    slack = mounts[f"{PLUGIN_ROOT}/slack"]
    assert slack == {"name": "plugin-slack", "mountPath": f"{PLUGIN_ROOT}/slack", "subPath": "plugin", "readOnly": True}
    assert "initContainers" not in rendered.pod
    # Local .so files from an arbitrary volume.
    assert volumes["local-plugin-in-house"]["persistentVolumeClaim"] == {"claimName": "cano-plugins"}
    assert mounts[f"{PLUGIN_ROOT}/in-house"]["readOnly"] is True


def test_the_shipped_plugins_are_loaded_unless_builtin_is_off() -> None:
    values = COMBINATIONS["init-copy plugins, existingSecret, no RBAC, single replica"]
    assert render(values).config["plugins"]["directories"][0] == BUILTIN
    core = {**values, "plugins": {**values["plugins"], "builtin": False}}
    assert BUILTIN not in render(core).config["plugins"]["directories"]


def test_init_copy_mode_copies_each_plugin_into_an_empty_dir() -> None:
    rendered = render(COMBINATIONS["init-copy plugins, existingSecret, no RBAC, single replica"])
    inits = {c["name"]: c for c in rendered.pod["initContainers"]}
    assert set(inits) == {"plugin-slack", "plugin-pagerduty"}
    assert inits["plugin-pagerduty"]["image"] == "registry.example/pagerduty:2.0"
    assert inits["plugin-pagerduty"]["imagePullPolicy"] == "Always"
    assert inits["plugin-slack"]["command"] == ["/cano-plugin-install", "/plugin", "/plugins/slack"]
    for init in inits.values():
        assert init["volumeMounts"] == [{"name": "plugins", "mountPath": "/plugins"}]
    assert "emptyDir" in rendered.volumes()["plugins"]
    assert rendered.mounts()[PLUGIN_ROOT] == {"name": "plugins", "mountPath": PLUGIN_ROOT, "readOnly": True}
    assert not any("image" in v for v in rendered.pod["volumes"])
    assert rendered.config["plugins"]["directories"] == [BUILTIN, f"{PLUGIN_ROOT}/slack", f"{PLUGIN_ROOT}/pagerduty"]


def test_auto_mode_uses_image_volumes_on_a_current_cluster() -> None:
    # The embedded Helm's default capabilities are its client-go version (>= 1.33).
    rendered = render({"plugins": {"images": [{"name": "slack", "image": "x/slack:1"}]}})
    assert "image" in rendered.volumes()["plugin-slack"]
    assert "Plugins (image-volume)" in rendered.notes


@pytest.mark.parametrize("values, message", [
    ({"plugins": {"mode": "copy"}}, "plugins.mode must be auto, image-volume or init-copy"),
    ({"plugins": {"images": [{"name": "Bad_Name", "image": "x"}]}}, "Bad_Name"),
])
def test_bad_plugin_values_fail_the_render_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(values)


# --- NOTES ---------------------------------------------------------------------------------

def test_notes_give_working_alertmanager_snippets(defaults: Rendered) -> None:
    url = f"http://cano-cano-collector.{NAMESPACE}.svc:9099/api/alerts"
    notes = defaults.notes
    assert notes.count(url) >= 3
    # Both snippets must be valid YAML with the receiver wired to the collector.
    plain = notes.split("1. Plain Alertmanager (alertmanager.yml):")[1].split("2. kube-prometheus-stack")[0]
    parsed = yaml.safe_load(plain)
    assert parsed["receivers"][0]["webhook_configs"][0] == {"url": url, "send_resolved": True, "max_alerts": 0}
    assert parsed["route"]["routes"][0]["receiver"] == "cano-collector"
    kps = notes.split("2. kube-prometheus-stack (values.yaml of that chart):")[1].split("(Keep the chart")[0]
    parsed = yaml.safe_load(kps)
    receiver = parsed["alertmanager"]["config"]["receivers"][0]
    assert receiver["name"] == "cano-collector" and receiver["webhook_configs"][0]["url"] == url
    assert "Issues go to the pod log only" in notes
    assert "Issues go to the pod log only" not in render({"config": {"destinations": [SLACK_DESTINATION]}}).notes


# --- storage: SQLite on a PVC, or PostgreSQL for several replicas -----------------------------

def test_default_is_one_replica_with_sqlite_on_a_persistent_volume_claim(defaults: Rendered) -> None:
    deployment = defaults.deployment
    assert deployment["spec"]["replicas"] == 1
    # The old pod is gone before the new one opens the SQLite file.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = defaults.one("PersistentVolumeClaim")
    assert claim["metadata"]["namespace"] == NAMESPACE
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert "storageClassName" not in claim["spec"], "the cluster's default StorageClass"
    assert defaults.volumes()["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    config = defaults.config
    assert config["data_dir"] == "/var/lib/cano-collector" and "storage" not in config
    assert "Store: SQLite on PersistentVolumeClaim" in defaults.notes
    assert "WARNING" not in defaults.notes


def test_persistence_values_shape_the_claim() -> None:
    rendered = render({"persistence": {"size": "5Gi", "storageClass": "fast-ssd", "accessModes": ["ReadWriteOncePod"],
                                       "annotations": {"backup.example/keep": "true"}}})
    claim = rendered.one("PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert claim["metadata"]["annotations"] == {"backup.example/keep": "true"}
    # "-": no dynamic provisioning (storageClassName "").
    assert render({"persistence": {"storageClass": "-"}}).one("PersistentVolumeClaim")["spec"]["storageClassName"] == ""
    # A claim of the user's own: mounted, none created.
    existing = render({"persistence": {"existingClaim": "my-data"}})
    assert not existing.of_kind("PersistentVolumeClaim")
    assert existing.volumes()["data"]["persistentVolumeClaim"] == {"claimName": "my-data"}


def test_persistence_disabled_falls_back_to_an_empty_dir_with_a_warning() -> None:
    rendered = render({"persistence": {"enabled": False}})
    assert not rendered.of_kind("PersistentVolumeClaim")
    assert rendered.volumes()["data"]["emptyDir"] == {"sizeLimit": "256Mi"}
    assert rendered.deployment["spec"]["replicas"] == 1
    assert "WARNING: persistence.enabled=false" in rendered.notes
    assert "lost whenever the pod" in rendered.notes


@pytest.mark.parametrize("values", [
    {"replicaCount": 2},
    {"replicaCount": 3},
    {"replicaCount": 3, "persistence": {"enabled": False}},
])
def test_several_replicas_without_postgres_fail_to_render_and_say_why(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError) as failure:
        render(values)
    message = str(failure.value)
    assert f"replicaCount={values['replicaCount']} needs storage.postgres.enabled=true" in message
    for reason in ("dedup", "ordering", "message updates", "SQLite"):
        assert reason in message, reason


def test_ha_example_renders_three_replicas_on_postgres() -> None:
    rendered = render(HA_VALUES)
    deployment = rendered.deployment
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    # No SQLite volume to keep: data_dir is an emptyDir, no claim.
    assert not rendered.of_kind("PersistentVolumeClaim")
    assert "emptyDir" in rendered.volumes()["data"]

    budget = rendered.one("PodDisruptionBudget")["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": rendered.one("Service")["spec"]["selector"]}}

    spread = {c["topologyKey"]: c for c in rendered.pod["topologySpreadConstraints"]}
    assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in spread.values():
        assert constraint["maxSkew"] == 1
        # The chart filled in its own pod labels.
        assert constraint["labelSelector"] == {"matchLabels": rendered.one("Service")["spec"]["selector"]}
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"

    config = rendered.config
    assert config["storage"] == {"postgres": {
        "url_file": "/etc/cano-collector/postgres/url",
        "ca_file": "/etc/cano-collector/postgres/ca.crt",
        "pool_size": 4,
        "claim_lease": "30s",
    }}
    # Several replicas: the Kubernetes watchers stay behind the Lease.
    assert config["kubernetes"]["leader_election"] == {"enabled": True, "lease_name": "cano-collector-leader"}

    mount = rendered.mounts()["/etc/cano-collector/postgres"]
    assert mount["readOnly"] is True
    sources = rendered.volumes()[mount["name"]]["projected"]["sources"]
    assert sources == [
        {"secret": {"name": "cano-postgres", "items": [{"key": "url", "path": "url"}]}},
        {"secret": {"name": "cano-postgres-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    ]
    assert "up to 15 connections (3 replicas x (poolSize 4 + 1 LISTEN))" in rendered.notes


def test_no_secret_value_reaches_the_configmap_with_postgres() -> None:
    values = copy.deepcopy(HA_VALUES)
    values["secrets"] = {"values": {"slack-token": "xoxb-not-a-real-token"}}
    rendered = render(values)
    text = rendered.one("ConfigMap")["data"]["config.yaml"]
    assert "url_file:" in text
    for leak in ("postgres://", "postgresql://", "PASSWORD", "xoxb-"):
        assert leak not in text, leak
    assert "url" not in rendered.config["storage"]["postgres"]
    # Nor into the pod spec as an environment variable.
    assert "env" not in rendered.container


def test_postgres_ca_from_a_configmap_and_no_ca() -> None:
    base = copy.deepcopy(HA_VALUES)
    base["storage"]["postgres"]["ca"] = {"configMapName": "corp-ca", "key": "bundle.pem"}
    rendered = render(base)
    sources = rendered.volumes()["postgres"]["projected"]["sources"]
    assert sources[1] == {"configMap": {"name": "corp-ca", "items": [{"key": "bundle.pem", "path": "ca.crt"}]}}
    base["storage"]["postgres"]["ca"] = {"secretName": "", "configMapName": ""}
    base["storage"]["postgres"]["poolSize"] = 8
    base["storage"]["postgres"]["claimLease"] = "3000ms"
    rendered = render(base)
    assert len(rendered.volumes()["postgres"]["projected"]["sources"]) == 1
    assert rendered.config["storage"]["postgres"] == {
        "url_file": "/etc/cano-collector/postgres/url", "pool_size": 8, "claim_lease": "3000ms"}


def test_one_replica_may_use_postgres_too() -> None:
    rendered = render({"storage": {"postgres": {"enabled": True, "urlSecret": {"name": "pg"}}}})
    assert rendered.deployment["spec"]["replicas"] == 1
    assert not rendered.of_kind("PersistentVolumeClaim") and not rendered.of_kind("PodDisruptionBudget")
    assert rendered.config["storage"]["postgres"]["url_file"] == "/etc/cano-collector/postgres/url"


def postgres(**overrides: Any) -> dict[str, Any]:
    values = copy.deepcopy(HA_VALUES)
    values["storage"]["postgres"].update(overrides)
    return values


@pytest.mark.parametrize("values, message", [
    (postgres(urlSecret={"name": ""}), "storage.postgres.urlSecret.name is required"),
    (postgres(url="postgres://cano:pw@db/cano"), "put the URL in a Secret"),
    (postgres(ca={"secretName": "a", "configMapName": "b"}), "secretName or configMapName, not both"),
    (postgres(claimLease="soon"), "claimLease must be a duration"),
    (postgres(claimLease="2s"), "claimLease must be at least 3s"),
    (postgres(claimLease="2500ms"), "claimLease must be at least 3s"),
    (postgres(poolSize=0), "poolSize must be from 1 to 100"),
    (postgres(poolSize=101), "poolSize must be from 1 to 100"),
    ({"config": {"extra": {"storage": {"postgres": {"url": "postgres://x"}}}}}, "config.extra.storage is not allowed"),
])
def test_bad_storage_values_fail_the_render_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(values)
