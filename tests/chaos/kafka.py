"""Kafka helpers that take the broker address explicitly: some chaos tests run
against a broker of their own, while tests.support reads one address at import."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient


def read_all(topic: str, bootstrap: str, timeout: float = 20.0) -> list:
    """Everything currently on `topic` (all partitions, up to the high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "log_level": 0})
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        parts = md.topics[topic].partitions if topic in md.topics else {}
        want = {}
        for p in parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)
            if high > low:
                want[p] = (low, high)
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in want.items()])
        msgs: list = []
        seen = {p: low for p, (low, _) in want.items()}
        deadline = time.monotonic() + timeout
        while any(seen[p] < want[p][1] for p in want):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout:.0f}s")
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                msgs.append(msg)
                seen[msg.partition()] = msg.offset() + 1
        return msgs
    finally:
        consumer.close()


def topics_with_prefix(bootstrap: str, prefixes: Iterable[str], timeout: float = 20.0
                       ) -> list[str]:
    names = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout).topics
    return sorted(t for t in names if any(t.startswith(p) for p in prefixes))


class RawProducer:
    """Produces raw bytes and remembers where each message landed, by a label."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                   "acks": "all", "linger.ms": 5,
                                   "partitioner": "murmur2_random",
                                   "message.max.bytes": 1_000_000})
        self.positions: dict[str, list[tuple[str, int, int]]] = {}
        self.errors: list[str] = []

    def send(self, topic: str, key: bytes | None, value: bytes, label: str,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        def done(err, msg) -> None:
            if err is not None:
                self.errors.append(f"{topic}: {err}")
            else:
                self.positions.setdefault(label, []).append(
                    (msg.topic(), msg.partition(), msg.offset()))

        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=done)
                break
            except BufferError:  # local queue full: let it drain
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        left = self._producer.flush(timeout)
        if left or self.errors:
            raise KafkaException(f"{left} messages unacknowledged; errors: {self.errors[:3]}")
