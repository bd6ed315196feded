"""The Kubernetes manifests: valid against the Kubernetes, Strimzi, KEDA and Prometheus
Operator schemas (kubeconform, strict, offline), and wired together as the workers need:
one Deployment per worker role (notify, risk), each scaled by KEDA on its own consumer
group's lag."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from streams.catalog import (
    BY_BUYER,
    BY_NAME,
    CHANNELS,
    INBOX,
    LIFECYCLE,
    PREFERENCES,
    RETRY_TIERS,
    RISK_BY_KEY,
    TOPICS,
    channel_topic,
    full_name,
    retry_topic,
)
from streams.settings import WorkerSettings
from tests.deploy.conftest import DEPLOY, ROOT, Tools, load_docs, run

K8S = DEPLOY / "k8s"


def _kubeconform(tools: Tools, version: str, *paths: Path) -> tuple[int, str]:
    result = run(
        tools.executable("KUBECONFORM"), "-strict", "-summary", "-output", "text",
        "-kubernetes-version", version,
        "-schema-location", tools.setting("K8S_SCHEMA_LOCATION"),
        "-schema-location", tools.setting("CRD_SCHEMA_LOCATION"),
        *map(str, paths),
    )
    return result.returncode, result.stdout + result.stderr


def _versions(tools: Tools) -> list[str]:
    return tools.setting("KUBERNETES_VERSIONS").split(",")


def test_manifests_validate_against_kubernetes_strimzi_and_keda_schemas(tools: Tools) -> None:
    for version in _versions(tools):
        code, output = _kubeconform(tools, version, K8S)
        assert code == 0, output
        # Nothing skipped: every document found a schema.
        assert "Invalid: 0, Errors: 0, Skipped: 0" in output, output


BROKEN = {
    "KafkaTopic": """
apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaTopic
metadata: {name: t, labels: {strimzi.io/cluster: ordercast}}
spec: {partitions: 0, replicas: 3, retention: 7d}
""",
    "ScaledObject": """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: s}
spec:
  scaleTargetRef: {name: ordercast-notify}
  minReplicas: 2
  triggers: [{type: kafka, metadata: {topic: orders.created}}]
""",
    "ServiceMonitor": """
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: m}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: web, interval: often}]
""",
    "Deployment": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x, ports: [{containerPort: web}]}]
""",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_validation_rejects_a_broken_resource(tools: Tools, tmp_path: Path, kind: str) -> None:
    """The schemas really bite: unknown fields and wrong types are errors."""
    path = tmp_path / f"{kind.lower()}.yaml"
    path.write_text(BROKEN[kind], encoding="utf-8")
    code, output = _kubeconform(tools, _versions(tools)[-1], path)
    assert code != 0
    assert "is invalid" in output, output


def _all_docs() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_docs(path)]


def _one(kind: str) -> dict:
    (doc,) = [d for d in _all_docs() if d["kind"] == kind]
    return doc


def _by_role(kind: str) -> dict[str, dict]:
    """The documents of `kind`, one per worker role, by their component label."""
    docs = [d for d in _all_docs() if d["kind"] == kind]
    found = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs}
    assert len(found) == len(docs), f"two {kind}s for one role"
    assert set(found) == set(ROLES), kind
    return found


def _app_roles() -> dict[str, tuple[str, ...]]:
    """streams/app.py ROLES (role -> modules), read without building the Faust app."""
    tree = ast.parse((ROOT / "streams" / "app.py").read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "ROLES" for t in n.targets)]
    return ast.literal_eval(node.value)


# The production roles, one Deployment each.
ROLES = ("notify", "risk")

PAYMENT_FAILED = next(spec.name for spec in LIFECYCLE if spec.schema == "payment_failed")
# What each role's consumer group consumes: the source topics of the agents in the
# modules streams/app.py ROLES gives the role.
CONSUMED = {
    "notify": {
        *(spec.name for spec in LIFECYCLE),  # streams.router: one route agent per topic
        PREFERENCES,  # streams.router.materialise_preferences
        *(channel_topic(ch) for ch in CHANNELS),  # streams.delivery send agents
        *(retry_topic(ch, tier) for ch in CHANNELS for tier in range(1, RETRY_TIERS + 1)),
        BY_BUYER,  # streams.buyers.buyer_count
        INBOX,  # streams.inbox.materialise_inbox (the web API's inbox)
    },
    "risk": {
        PAYMENT_FAILED,  # streams.risk_agent.RiskSplit, in its own group (SPLIT)
        RISK_BY_KEY,  # risk_count
    },
}
# Topics a role consumes outside faust's group, in "<role's group>-split" (streams.risk_split).
SPLIT = {("risk", PAYMENT_FAILED)}
ROLE_MODULES = {
    "notify": {"streams.router", "streams.delivery", "streams.buyers", "streams.web"},
    "risk": {"streams.risk_agent"},
}


def _config() -> dict[str, str]:
    return _one("ConfigMap")["data"]


def _consumer_group(role: str, topic: str | None = None) -> str:
    """As streams/app.py names it: the app id, with "-risk" for the risk role;
    streams/risk_agent.py adds "-split" for the risk split's group."""
    app_id = _config().get("ORDERCAST_APP_ID", WorkerSettings.model_fields["app_id"].default)
    group = f"{app_id}-risk" if role == "risk" else app_id
    return f"{group}-split" if (role, topic) in SPLIT else group


def _broker_name(topic: str) -> str:
    return full_name(topic, prefix=_config().get("ORDERCAST_KAFKA_TOPIC_PREFIX", ""))


def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _plain_env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _secret_env(container: dict) -> dict[str, dict]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


def test_expected_resources_exist() -> None:
    kinds = sorted({d["kind"] for d in _all_docs()})
    assert kinds == sorted({"ConfigMap", "Deployment", "KafkaTopic", "PodDisruptionBudget",
                            "ScaledObject", "Service", "ServiceAccount", "ServiceMonitor"})
    assert sum(d["kind"] == "KafkaTopic" for d in _all_docs()) == len(TOPICS)
    names = {(d["kind"], d["metadata"]["name"]) for d in _all_docs()}
    for kind in ("Deployment", "ScaledObject", "PodDisruptionBudget", "Service"):
        assert {n for k, n in names if k == kind} == {"ordercast-notify", "ordercast-risk"}, kind


def test_one_deployment_per_worker_role() -> None:
    roles = _app_roles()
    assert set(ROLES) <= set(roles)
    for role, deployment in _by_role("Deployment").items():
        assert _plain_env(_container(deployment))["ORDERCAST_ROLE"] == role
        assert set(roles[role]) == ROLE_MODULES[role], role
    # The web API (inbox, card-key links) runs in notify only; risk runs the risk agent only.
    assert "streams.web" not in roles["risk"]
    assert "streams.risk_agent" not in roles["notify"]


def test_worker_probes_ports_and_security() -> None:
    for role, deployment in _by_role("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        (port,) = container["ports"]
        assert (port["name"], port["containerPort"]) == ("web", 6066), role
        assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "web"}, role
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "web"}, role
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}, role
        for key in ("cpu", "memory"):
            assert container["resources"]["requests"][key], role
            assert container["resources"]["limits"][key], role
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_worker_volumes_back_the_configured_paths() -> None:
    """Both roles keep the data volume: the tables (the risk-state table for risk)
    live under ORDERCAST_DATA_DIR; the merchants file is read by both."""
    data = _config()
    for role, deployment in _by_role("Deployment").items():
        mounts = {m["name"]: m["mountPath"] for m in _container(deployment)["volumeMounts"]}
        volumes = {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert set(mounts) == volumes == {"data", "tmp", "merchants"}, role
        assert data["ORDERCAST_DATA_DIR"].startswith(mounts["data"] + "/"), role
        assert data["ORDERCAST_MERCHANTS_FILE"].startswith(mounts["merchants"] + "/"), role


def test_worker_settings_come_from_configmap_and_secrets() -> None:
    config = _one("ConfigMap")
    data = config["data"]
    assert data["ORDERCAST_WEB_PORT"] == "6066"
    assert data["ORDERCAST_WEB_HOST"] == "0.0.0.0"
    assert "ORDERCAST_AWS_ENDPOINT_URL" not in data  # production talks to real AWS
    assert "ORDERCAST_ROLE" not in data  # each Deployment sets its own
    assert not any("SECRET" in key for key in data)
    deployments = _by_role("Deployment")
    for deployment in deployments.values():
        container = _container(deployment)
        assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    wanted = {"ORDERCAST_LINK_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert wanted <= set(_secret_env(_container(deployments["notify"])))
    # Risk only produces to Kafka: no AWS keys, no link secret.
    assert _secret_env(_container(deployments["risk"])) == {}


def test_roles_run_under_their_own_service_accounts() -> None:
    """The IRSA role (SES/SNS) goes on notify's account only; risk never sends."""
    accounts = {d["metadata"]["name"] for d in _all_docs() if d["kind"] == "ServiceAccount"}
    used = {role: d["spec"]["template"]["spec"]["serviceAccountName"]
            for role, d in _by_role("Deployment").items()}
    assert set(used.values()) <= accounts
    assert used["notify"] != used["risk"]


def test_selectors_match_the_pods_of_one_role() -> None:
    deployments = _by_role("Deployment")
    labels = {role: d["spec"]["template"]["metadata"]["labels"] for role, d in deployments.items()}
    for kind, selector_of in (
        ("Deployment", lambda d: d["spec"]["selector"]["matchLabels"]),
        ("PodDisruptionBudget", lambda d: d["spec"]["selector"]["matchLabels"]),
        ("Service", lambda d: d["spec"]["selector"]),
    ):
        for role, doc in _by_role(kind).items():
            selector = selector_of(doc)
            selected = {r for r, pod in labels.items() if selector.items() <= pod.items()}
            assert selected == {role}, (kind, role, selected)
    for role, service in _by_role("Service").items():
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == "web", role


def _monitor_selects(selector: dict, labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr  # the only operator used here
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_metrics_are_scraped_from_both_roles() -> None:
    selector = _one("ServiceMonitor")["spec"]["selector"]
    scraped = {role for role, service in _by_role("Service").items()
               if _monitor_selects(selector, service["metadata"]["labels"])}
    assert scraped == set(ROLES)


def test_scrape_job_is_named_ordercast() -> None:
    """rules.yml alerts on job="ordercast"; the ServiceMonitor must produce that job."""
    monitor = _one("ServiceMonitor")["spec"]
    for role, service in _by_role("Service").items():
        assert service["metadata"]["labels"][monitor["jobLabel"]] == "ordercast", role
    (endpoint,) = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("web", "/metrics")


def test_keda_scales_each_role_on_its_own_consumer_lag() -> None:
    deployments = _by_role("Deployment")
    for role, scaled_object in _by_role("ScaledObject").items():
        scaled = scaled_object["spec"]
        assert scaled["scaleTargetRef"]["name"] == deployments[role]["metadata"]["name"]
        assert "replicas" not in deployments[role]["spec"]  # KEDA owns the count
        triggers = scaled["triggers"]
        assert {t["type"] for t in triggers} == {"kafka"}, role
        catalog_name = {_broker_name(name): name for name in CONSUMED[role]}
        for t in triggers:
            topic = catalog_name.get(t["metadata"]["topic"])
            assert t["metadata"]["consumerGroup"] == _consumer_group(role, topic), topic
        topics = [t["metadata"]["topic"] for t in triggers]
        assert len(topics) == len(set(topics)), role
        assert set(topics) == {_broker_name(name) for name in CONSUMED[role]}, role
        for trigger in triggers:
            assert trigger["metadata"]["bootstrapServersFromEnv"] in _config()
        # More consumers than partitions would sit idle.
        assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"], role
        assert scaled["maxReplicaCount"] <= min(BY_NAME[name].partitions
                                                for name in CONSUMED[role]), role


def test_consumed_topics_are_catalog_topics() -> None:
    for role, names in CONSUMED.items():
        assert names <= BY_NAME.keys(), role
    assert _consumer_group("notify") != _consumer_group("risk")
