"""faust goes on only once the broker's metadata lists the topics it created.

faust creates its table changelog topics at start and then joins the group,
where the leader's assignment reads the topics from cluster metadata. On a busy
broker a topic created a second ago was still missing there: the assignor
skipped it ("Ignoring missing topic"), and for a global table's changelog it
fails outright (a KeyError inside aiokafka's join), which left a worker stuck
in the join with no error logged. So each creation waits, bounded, until the
producer's metadata shows the topic with its partitions.
"""

from __future__ import annotations

import asyncio
from functools import wraps
from typing import Any

from faust.transport.drivers.aiokafka import Producer

VISIBLE_WITHIN_S = 10.0


def install() -> None:
    create = Producer.create_topic
    if getattr(create, "ordercast_visible", False):
        return

    @wraps(create)
    async def create_topic(self: Any, topic: str, *args: Any, **kwargs: Any) -> None:
        await create(self, topic, *args, **kwargs)
        client = self._ensure_producer().client
        loop = asyncio.get_running_loop()
        deadline = loop.time() + VISIBLE_WITHIN_S
        while not client.cluster.partitions_for_topic(topic) and loop.time() < deadline:
            await asyncio.sleep(0.1)
            await client.force_metadata_update()

    create_topic.ordercast_visible = True  # type: ignore[attr-defined]
    Producer.create_topic = create_topic
