"""A shorter broker-side fetch wait for faust's consumer.

faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no
setting to change it. aiokafka keeps one fetch request in flight per broker,
and leaves out of it every partition whose last records are still being
processed; if the partitions left in the request have nothing new, the broker
holds the request for the full wait, and the busy partitions cannot be fetched
again until it returns. Under load that showed as 1-3 s pauses in consumption
with both threads idle. A short wait bounds the pause; the cost is a few more
empty fetches per second when the worker is idle.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread


def install(wait_ms: int) -> None:
    create = AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "ordercast_wait_ms", None) is not None:
        create = create.__wrapped__

    @wraps(create)
    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = wait_ms  # read when the consumer starts its fetcher
        return consumer

    create_worker_consumer.ordercast_wait_ms = wait_ms  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer
