"""Fault injection for chaos tests: lose fetched records on their way to the
agents, a failure the stall watchdog guards against.

``ORDERCAST_CHAOS_DROP_FETCHED=<catalog topic>[<partition>]:<offset>:<n>``
drops the records at offsets ``offset`` to ``offset + n - 1`` of that partition
the first time they are fetched, after they are read and before any agent sees
them: they are then neither processed nor acknowledged, and only the stall
watchdog's refetch (streams.watchdog) brings them back. Never set in production.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from .catalog import full_name

log = logging.getLogger(__name__)

ENV = "ORDERCAST_CHAOS_DROP_FETCHED"
_SPEC = re.compile(r"^(?P<name>[^\[]+)\[(?P<partition>\d+)\]:(?P<offset>\d+):(?P<n>\d+)$")


def install(app: Any) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"{ENV}={spec!r}: expected <topic>[<partition>]:<offset>:<n>")
    topic, partition = full_name(m["name"]), int(m["partition"])
    doomed = set(range(int(m["offset"]), int(m["offset"]) + int(m["n"])))
    deliver = app.topics.on_message  # the consumer's callback, taken when it is built

    async def on_message(message: Any) -> None:
        if (message.topic == topic and message.partition == partition
                and message.offset in doomed):
            doomed.discard(message.offset)  # once: a refetch gets it through
            log.warning("chaos: dropped %s[%d]@%d after the fetch", topic, partition,
                        message.offset)
            return
        await deliver(message)

    app.topics.on_message = on_message
    log.warning("chaos: records %s of %s[%d] will be lost once", sorted(doomed), topic,
                partition)
