"""Provision the topic catalog with confluent-kafka's AdminClient, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, replace

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from . import settings as cfg
from .catalog import TOPICS, TopicSpec, full_name
from .exceptions import StackError


@dataclass(frozen=True)
class Change:
    topic: str
    action: str  # created | partitions | config | unchanged
    detail: str = ""


def admin(bootstrap: str | None = None) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap or cfg.kafka().bootstrap})


def apply(specs: tuple[TopicSpec, ...] = TOPICS, bootstrap: str | None = None,
          timeout: float = 30.0, prefix: str | None = None,
          partitions: int | None = None) -> list[Change]:
    """Create missing topics, grow partitions, align configs. Never deletes or shrinks.
    `partitions` overrides the catalog's count (the worker's
    ORDERCAST_KAFKA_PARTITIONS must then match it: tables follow their sources)."""
    specs = tuple(replace(s, name=full_name(s.name, prefix),
                          partitions=partitions or s.partitions) for s in specs)
    client = admin(bootstrap)
    try:
        md = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        where = bootstrap or cfg.kafka().bootstrap
        raise StackError(f"cannot reach Kafka at {where}: {exc}") from None
    replicas = max(1, len(md.brokers))
    changes: list[Change] = []
    new = [NewTopic(s.name, num_partitions=s.partitions,
                    replication_factor=min(s.replicas, replicas), config=s.topic_config())
           for s in specs if s.name not in md.topics]
    if new:
        for name, fut in client.create_topics(new, operation_timeout=timeout).items():
            _result(fut, f"create {name}", tolerate="TOPIC_ALREADY_EXISTS")
            changes.append(Change(name, "created"))
    grow = [NewPartitions(s.name, s.partitions) for s in specs
            if s.name in md.topics and len(md.topics[s.name].partitions) < s.partitions]
    if grow:
        for name, fut in client.create_partitions(grow).items():
            _result(fut, f"grow {name}")
            changes.append(Change(name, "partitions", "grown"))
    existing = [s for s in specs if s.name in md.topics]
    changes += _align_configs(client, existing)
    done = {c.topic for c in changes}
    changes += [Change(s.name, "unchanged") for s in specs if s.name not in done]
    return changes


def delete_prefixed(prefixes: tuple[str, ...], bootstrap: str | None = None,
                    timeout: float = 30.0) -> int:
    """Delete every topic whose name starts with one of `prefixes` (test clean-up)."""
    client = admin(bootstrap)
    names = [t for t in client.list_topics(timeout=timeout).topics
             if any(t.startswith(p) for p in prefixes)]
    if names:
        for fut in client.delete_topics(names, operation_timeout=timeout).values():
            _result(fut, "delete", tolerate="UNKNOWN_TOPIC_OR_PART")
    return len(names)


def _align_configs(client: AdminClient, specs: list[TopicSpec]) -> list[Change]:
    if not specs:
        return []
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in specs]
    current = client.describe_configs(resources)
    changes = []
    for spec, res in zip(specs, resources, strict=True):
        have = {k: v.value for k, v in _result(current[res], f"describe {spec.name}").items()}
        want = spec.topic_config()
        drift = {k: v for k, v in want.items() if have.get(k) != v}
        if drift:
            update = ConfigResource(ConfigResource.Type.TOPIC, spec.name, set_config=want)
            for fut in client.alter_configs([update]).values():
                _result(fut, f"configure {spec.name}")
            changes.append(Change(spec.name, "config", ", ".join(sorted(drift))))
    return changes


def _result(fut, what: str, tolerate: str | None = None):
    try:
        return fut.result()
    except KafkaException as exc:
        err = exc.args[0]
        if tolerate and getattr(err, "name", lambda: "")() == tolerate:
            return None
        raise StackError(f"{what}: {err}") from None
