"""The ceiling: plain confluent-kafka consume and produce, bytes passed through
untouched (no decode, no render, no provider call).

    python -m bench.raw --topic IN --out OUT --group G --n N --result FILE

Writes ``{"n": ..., "seconds": ..., "per_s": ...}`` to FILE: time from the
first message consumed to the last one acknowledged by the broker.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streams.settings import kafka as kafka_settings


def run(bootstrap: str, topic: str, out: str, group: str, n: int) -> dict[str, float]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": True})
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "enable.idempotence": True})
    partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    done, start = 0, None
    try:
        while done < n:
            for msg in consumer.consume(num_messages=1000, timeout=0.1):
                if msg.error():
                    continue
                if start is None:
                    start = time.perf_counter()
                _produce(producer, out, msg)
                done += 1
            producer.poll(0)
        if producer.flush(60):
            raise RuntimeError("produced messages not acknowledged")
        seconds = time.perf_counter() - (start or time.perf_counter())
    finally:
        consumer.close()
    return {"n": done, "seconds": seconds, "per_s": done / seconds if seconds else 0.0}


def _produce(producer: Producer, topic: str, msg) -> None:
    while True:
        try:
            producer.produce(topic, msg.value(), msg.key())
            return
        except BufferError:  # local queue full: let it drain
            producer.poll(0.05)


def main() -> None:
    p = argparse.ArgumentParser(description="consume + produce passthrough")
    p.add_argument("--bootstrap", default=kafka_settings().bootstrap)
    p.add_argument("--topic", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--result", type=Path, required=True)
    a = p.parse_args()
    a.result.write_text(json.dumps(run(a.bootstrap, a.topic, a.out, a.group, a.n)))


if __name__ == "__main__":
    main()
