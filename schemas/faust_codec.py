"""A Faust codec for the wire format, so agents and tables receive typed records.

Registered as ``avro``: ``app.topic(..., value_serializer="avro")`` decodes to a
:class:`schemas.codec.Record` (a dict that knows its schema) and encodes any
Record, or any (schema, dict) pair, to single-object bytes.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from .codec import REGISTRY, Record


class AvroCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, Record):
            return REGISTRY.encode(obj.schema, obj, check=False)
        if isinstance(obj, tuple) and len(obj) == 2:
            schema, data = obj
            return REGISTRY.encode(schema, data, check=False)
        raise TypeError(f"cannot Avro-encode {type(obj).__name__}: need a Record")

    def _loads(self, data: bytes) -> Record:
        return REGISTRY.decode(data)


def register() -> None:
    codecs.register("avro", AvroCodec())
