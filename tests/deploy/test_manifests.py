"""The Kubernetes manifests: valid against the Kubernetes, Strimzi, KEDA and Prometheus
Operator schemas (kubeconform, strict, offline), and wired together as the worker needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.catalog import LIFECYCLE, TOPICS
from tests.deploy.conftest import DEPLOY, Tools, load_docs, run

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
  scaleTargetRef: {name: ordercast-worker}
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


def test_expected_resources_exist() -> None:
    kinds = sorted({d["kind"] for d in _all_docs()})
    assert kinds == sorted({"ConfigMap", "Deployment", "KafkaTopic", "PodDisruptionBudget",
                            "ScaledObject", "Service", "ServiceAccount", "ServiceMonitor"})
    assert sum(d["kind"] == "KafkaTopic" for d in _all_docs()) == len(TOPICS)


def test_worker_probes_ports_and_security() -> None:
    pod = _one("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("web", 6066)
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "web"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}
    for key in ("cpu", "memory"):
        assert container["resources"]["requests"][key]
        assert container["resources"]["limits"][key]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_worker_settings_come_from_configmap_and_secrets() -> None:
    container = _one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    config = _one("ConfigMap")
    assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    data = config["data"]
    assert data["ORDERCAST_WEB_PORT"] == "6066"
    assert data["ORDERCAST_WEB_HOST"] == "0.0.0.0"
    assert "ORDERCAST_AWS_ENDPOINT_URL" not in data  # production talks to real AWS
    assert not any("SECRET" in key for key in data)
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    wanted = {"ORDERCAST_LINK_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert wanted <= set(secret_env)


def test_selectors_match_the_pods() -> None:
    labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [_one("Deployment")["spec"]["selector"]["matchLabels"],
                 _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                 _one("Service")["spec"]["selector"],
                 _one("ServiceMonitor")["spec"]["selector"]["matchLabels"]]
    for selector in selectors:
        assert selector.items() <= labels.items()
    assert _one("Service")["spec"]["ports"][0]["targetPort"] == "web"
    monitored = _one("ServiceMonitor")["spec"]["selector"]["matchLabels"]
    assert monitored.items() <= _one("Service")["metadata"]["labels"].items()


def test_scrape_job_is_named_ordercast() -> None:
    """rules.yml alerts on job="ordercast"; the ServiceMonitor must produce that job."""
    monitor = _one("ServiceMonitor")["spec"]
    assert _one("Service")["metadata"]["labels"][monitor["jobLabel"]] == "ordercast"
    (endpoint,) = monitor["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("web", "/metrics")


def test_keda_scales_the_worker_on_lifecycle_lag() -> None:
    scaled = _one("ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == _one("Deployment")["metadata"]["name"]
    assert "replicas" not in _one("Deployment")["spec"]  # KEDA owns the count
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {"ordercast"}
    assert sorted(t["metadata"]["topic"] for t in triggers) == sorted(t.name for t in LIFECYCLE)
    # More consumers than partitions would sit idle.
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    assert scaled["maxReplicaCount"] <= min(t.partitions for t in LIFECYCLE)
