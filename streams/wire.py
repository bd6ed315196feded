"""Faust topics of the catalog, carried as raw bytes: every value is Avro
single-object encoded (schemas.codec), which the agents decode themselves so
an undecodable message becomes a dead letter instead of a crashed stream."""

from __future__ import annotations

from faust.types import TopicT

from .app import app
from .catalog import LIFECYCLE, full_name


def raw_topic(name: str) -> TopicT:
    """The catalog topic `name` (prefix applied), bytes in and out."""
    return app.topic(full_name(name), key_type=bytes, value_type=bytes,
                     key_serializer="raw", value_serializer="raw")


def lifecycle_topic(schema: str) -> TopicT:
    """The lifecycle topic that carries events of `schema`."""
    return raw_topic(next(s.name for s in LIFECYCLE if s.schema == schema))
