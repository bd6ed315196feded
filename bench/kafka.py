"""Broker plumbing for bench runs: fresh topic namespaces, publishing (all at
once or paced), consumer-group state, and removing the run's own topics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from functools import cache

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from streams import publish, topics
from streams.catalog import BY_NAME, TOPICS, full_name

from .events import LIFECYCLE_TOPIC, OrderEvent


def provision(prefix: str, names: Sequence[str] | None = None) -> None:
    """The catalog under ``prefix`` (what a worker expects to find), or only
    the named catalog topics: every partition costs the broker open files."""
    specs = tuple(BY_NAME[n] for n in names) if names else TOPICS
    topics.apply(specs, prefix=prefix)


def _produce(producer: Producer, topic: str, value: bytes, key: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:  # local queue full: let it drain
            producer.poll(0.05)


def _flush(producer: Producer) -> None:
    if producer.flush(60):
        raise RuntimeError("bench events not acknowledged by Kafka within 60 s")


def publish_all(prefix: str, events: Sequence[OrderEvent]) -> None:
    topic = full_name(LIFECYCLE_TOPIC, prefix)
    producer = publish.producer()
    for ev in events:
        _produce(producer, topic, ev.encode(), ev.key)
        producer.poll(0)
    _flush(producer)


def publish_raw(topic: str, items: Iterable[tuple[bytes, bytes]]) -> int:
    """(key, value) pairs to one topic; returns how many."""
    producer = publish.producer()
    n = 0
    for key, value in items:
        _produce(producer, topic, value, key)
        producer.poll(0)
        n += 1
    _flush(producer)
    return n


def publish_paced(prefix: str, events: Sequence[OrderEvent], rate: float) -> dict[str, float]:
    """Publish at ``rate`` events/s, each stamped with its publish time (the
    event's occurred_at too); returns order id -> publish time (epoch s)."""
    topic = full_name(LIFECYCLE_TOPIC, prefix)
    producer = publish.producer()
    published: dict[str, float] = {}
    start = time.perf_counter()
    for i, ev in enumerate(events):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        _produce(producer, topic, ev.encode(occurred_at=int(now * 1000)), ev.key)
        published[ev.order_id] = now
        producer.poll(0)
    _flush(producer)
    return published


@cache
def admin() -> AdminClient:
    """One client for the run: a client collected while a request is pending
    leaves that request's future unresolved forever."""
    from streams.settings import kafka

    return AdminClient({"bootstrap.servers": kafka().bootstrap})


def group_members(group: str) -> int:
    """Members of a consumer group once it is stable (0 while it rebalances)."""
    try:
        fut = admin().describe_consumer_groups([group], request_timeout=5)[group]
        desc = fut.result(timeout=10)
    except Exception:  # not there yet
        return 0
    return len(desc.members) if desc.state.name == "STABLE" else 0


def delete_topics_under(prefix: str, timeout: float = 60.0) -> int:
    """Delete the topics whose names start with ``prefix`` (the run's own, or
    one contender's), and no others; waits until the broker no longer lists them."""
    client = admin()

    def mine() -> list[str]:
        return [t for t in client.list_topics(timeout=10).topics if t.startswith(prefix)]

    names = mine()
    if names:
        for fut in client.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):  # already gone: nothing to do
                fut.result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while (left := mine()) and time.monotonic() < deadline:
            time.sleep(0.5)
        if left:
            raise RuntimeError(f"{len(left)} topics under {prefix} still listed after delete")
    return len(names)


def record_times(topic: str, keys: set[str], timeout: float = 20.0) -> dict[str, float]:
    """Key -> broker record timestamp (epoch s) of the first record with that key,
    for the wanted keys: when a hop inside the worker produced it."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from streams.settings import kafka

    consumer = Consumer({"bootstrap.servers": kafka().bootstrap, "group.id": "bench-reader",
                         "enable.auto.commit": False})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1]
                for p in parts}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        seen: dict[int, int] = {p: 0 for p in parts}
        found: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while any(seen[p] < ends[p] for p in parts) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    continue
                seen[msg.partition()] = msg.offset() + 1
                key = (msg.key() or b"").decode(errors="replace")
                if key in keys and key not in found:
                    found[key] = msg.timestamp()[1] / 1000
        return found
    finally:
        consumer.close()


def group_lag(group: str) -> dict[str, int] | None:
    """Per topic, messages the group has yet to commit (over every partition it
    has committed on); None when that cannot be read right now."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    try:
        fut = admin().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
        committed = [tp for tp in fut.result(timeout=10).topic_partitions if tp.offset >= 0]
        lag: dict[str, int] = {}
        for tp in committed:
            _, end = _reader().get_watermark_offsets(TopicPartition(tp.topic, tp.partition), 10)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - tp.offset)
        return lag
    except Exception:  # mid-rebalance or a slow broker: ask again later
        return None


@cache
def _reader():
    from confluent_kafka import Consumer

    from streams.settings import kafka

    return Consumer({"bootstrap.servers": kafka().bootstrap, "group.id": "bench-watermarks",
                     "enable.auto.commit": False})
