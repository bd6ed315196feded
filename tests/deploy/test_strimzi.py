"""deploy/k8s/topics.yaml is exactly what streams.strimzi renders from the catalog."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from streams.catalog import TOPICS, TopicSpec
from streams.strimzi import API_VERSION, render_kafka_topics, resource_name
from tests.deploy.conftest import DEPLOY, ROOT

TOPICS_YAML = DEPLOY / "k8s" / "topics.yaml"


def test_committed_file_equals_rendered_output() -> None:
    assert TOPICS_YAML.read_text(encoding="utf-8") == render_kafka_topics(), (
        "deploy/k8s/topics.yaml is stale: python -m streams.strimzi > deploy/k8s/topics.yaml"
    )


def test_every_catalog_topic_has_matching_kafka_topic() -> None:
    docs = list(yaml.safe_load_all(TOPICS_YAML.read_text(encoding="utf-8")))
    by_topic = {doc["spec"].get("topicName", doc["metadata"]["name"]): doc for doc in docs}
    assert len(docs) == len(TOPICS)
    assert set(by_topic) == {t.name for t in TOPICS}
    for spec in TOPICS:
        doc = by_topic[spec.name]
        assert doc["apiVersion"] == API_VERSION == "kafka.strimzi.io/v1beta2"
        assert doc["kind"] == "KafkaTopic"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "ordercast"
        assert doc["spec"]["partitions"] == spec.partitions
        assert doc["spec"]["replicas"] == spec.replicas
        assert doc["spec"]["config"] == spec.topic_config()


def test_order_follows_the_catalog_and_is_stable() -> None:
    docs = list(yaml.safe_load_all(render_kafka_topics()))
    assert [d["metadata"]["name"] for d in docs] == [resource_name(t.name) for t in TOPICS]
    assert render_kafka_topics() == render_kafka_topics()


def test_cluster_label_is_a_parameter() -> None:
    docs = list(yaml.safe_load_all(render_kafka_topics(TOPICS[:2], cluster="prod-eu")))
    assert [d["metadata"]["labels"]["strimzi.io/cluster"] for d in docs] == ["prod-eu"] * 2


@pytest.mark.parametrize("topic, name", [
    ("orders.created", "orders.created"),
    ("ordercast.notify.email.retry-1", "ordercast.notify.email.retry-1"),
])
def test_valid_kubernetes_names_are_kept(topic: str, name: str) -> None:
    assert resource_name(topic) == name


@pytest.mark.parametrize("topic", ["Orders_Created", "orders_created", "-orders", "a" * 300])
def test_other_names_get_a_valid_unique_resource_name(topic: str) -> None:
    name = resource_name(topic)
    assert name != topic
    assert len(name) <= 253
    assert resource_name(topic) == name
    assert resource_name(topic + "x") != name
    assert name == resource_name(name)  # already valid: kept as it is


def test_topic_name_is_set_only_when_the_resource_name_differs() -> None:
    specs = (TopicSpec("orders_created", "order_created", "x", key="k"),
             TopicSpec("orders.created", "order_created", "x", key="k"))
    odd, plain = yaml.safe_load_all(render_kafka_topics(specs))
    assert odd["spec"]["topicName"] == "orders_created"
    assert odd["metadata"]["name"] != "orders_created"
    assert "topicName" not in plain["spec"]


def test_compacted_topic_has_no_retention() -> None:
    spec = TopicSpec("t", "preferences", "x", key="k", cleanup_policy="compact", retention_ms=-1)
    (doc,) = yaml.safe_load_all(render_kafka_topics((spec,)))
    assert doc["spec"]["config"] == {"cleanup.policy": "compact"}


def test_module_entry_point_prints_the_manifests() -> None:
    result = subprocess.run([sys.executable, "-m", "streams.strimzi"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_kafka_topics()
