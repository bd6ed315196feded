"""Validate order-lifecycle events and publish them, Avro single-object encoded.

Input is JSON Lines, one event per line: {"type": "<schema>", "data": {...}}.
A bad line is reported with its number and reason; the good ones still go out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from schemas.codec import REGISTRY
from schemas.exceptions import EncodeError

from . import settings as cfg
from .catalog import LIFECYCLE, PREFERENCES, full_name
from .exceptions import PublishError

TOPIC_BY_TYPE = {spec.schema: spec.name for spec in LIFECYCLE}
TOPIC_BY_TYPE["preferences"] = PREFERENCES  # recipients' choices, keyed by recipient id


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class Report:
    published: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    by_topic: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    topic: str
    key: bytes
    value: bytes
    event_type: str


def prepare(event_type: str, data: dict[str, Any]) -> Prepared:
    """Validate and encode one event; raises EncodeError with a readable reason."""
    topic = TOPIC_BY_TYPE.get(event_type)
    if topic is None:
        raise EncodeError(f"unknown event type {event_type!r}; known: "
                          + ", ".join(sorted(TOPIC_BY_TYPE)))
    value = REGISTRY.encode(event_type, data)
    if event_type == "preferences":
        return Prepared(topic, data["recipient_id"].encode(), value, event_type)
    env = data["envelope"]
    key = (env.get("order_id") or env["buyer"]["buyer_id"]).encode()
    return Prepared(topic, key, value, event_type)


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, Prepared | Rejected]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Rejected(number, f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield number, Rejected(number, "not JSON we accept: nested too deeply")
            continue
        if not isinstance(obj, dict) or "type" not in obj or not isinstance(obj.get("data"), dict):
            yield number, Rejected(number, 'expected {"type": ..., "data": {...}}')
            continue
        try:
            yield number, prepare(str(obj["type"]), obj["data"])
        except EncodeError as exc:
            yield number, Rejected(number, str(exc))


def producer(bootstrap: str | None = None, **extra: Any) -> Producer:
    conf = {
        "bootstrap.servers": bootstrap or cfg.kafka().bootstrap,
        "enable.idempotence": True,  # a retried produce is written once
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        # the Java client's partitioner: events of one order land on the same
        # partition number whichever client published them
        "partitioner": "murmur2_random",
        **extra,
    }
    return Producer(conf)


def publish(items: Iterable[Prepared | Rejected], bootstrap: str | None = None,
            timeout: float = 60.0, progress=None, prefix: str | None = None) -> Report:
    report = Report()
    failures: list[str] = []

    def delivered(err, msg) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err}")

    prod = producer(bootstrap)
    for item in items:
        if isinstance(item, Rejected):
            report.rejected.append(item)
            continue
        while True:
            try:
                prod.produce(full_name(item.topic, prefix), item.value, item.key,
                             on_delivery=delivered)
                break
            except BufferError:  # local queue full: let it drain
                prod.poll(0.1)
        prod.poll(0)
        report.published += 1
        report.by_topic[item.topic] = report.by_topic.get(item.topic, 0) + 1
        if progress:
            progress()
    left = prod.flush(timeout)
    if left or failures:
        raise PublishError(f"{left + len(failures)} events not acknowledged by Kafka"
                           + (f"; first error: {failures[0]}" if failures else ""))
    return report
