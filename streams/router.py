"""Router agents: one per lifecycle topic. Each decodes the Avro single-object
record (dead-lettering what cannot be decoded) and turns it into notifications."""

from __future__ import annotations

import logging

from faust.types import EventT

from schemas.codec import REGISTRY, Record
from schemas.exceptions import DecodeError

from . import deadletter, metrics
from .app import app
from .catalog import EVENTS_DLT, LIFECYCLE, TopicSpec, full_name

log = logging.getLogger(__name__)

events_dlt = app.topic(full_name(EVENTS_DLT), key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")


async def decode_or_dead_letter(event: EventT, spec: TopicSpec) -> Record | None:
    msg = event.message
    try:
        return REGISTRY.decode(event.value, expect=spec.schema)
    except DecodeError as exc:
        origin = deadletter.Origin(msg.topic, msg.partition, msg.offset, msg.key)
        value, headers = deadletter.build(origin, msg.value, type(exc).__name__, str(exc),
                                          channel="ingest")
        await events_dlt.send(key=msg.key, value=value, headers=headers)
        metrics.DEAD_LETTERS.labels("ingest", type(exc).__name__).inc()
        log.warning("dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc)
        return None


async def handle(record: Record, event: EventT) -> None:
    """Route one decoded lifecycle event."""


def _agent_for(spec: TopicSpec):
    topic = app.topic(full_name(spec.name), key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")

    async def route(stream):
        async for event in stream.events():
            record = await decode_or_dead_letter(event, spec)
            if record is None:
                continue
            metrics.EVENTS.labels(spec.name, record.schema).inc()
            await handle(record, event)

    route.__name__ = route.__qualname__ = f"route_{spec.schema}"
    return app.agent(topic, name=f"streams.router.route_{spec.schema}")(route)


AGENTS = [_agent_for(spec) for spec in LIFECYCLE]
