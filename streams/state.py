"""Table writes with an explicit changelog partition.

Faust derives a table write's changelog partition from the event being
processed. Timers and sweeps run outside any event, so they name the partition
themselves: the one the key was first written from, which they store with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from faust.types import TableT
from faust.types.tuples import FutureMessage

SLICE = 1000  # keys a sweep visits between two turns of the event loop


def put(table: TableT, partition: int, key: Any, value: Any) -> FutureMessage:
    """Set `key` locally and queue its changelog record; await the result to
    know the record is acknowledged."""
    table.data[key] = value
    return table.send_changelog(partition, key, value)


def drop(table: TableT, partition: int, key: Any) -> None:
    table.data.pop(key, None)
    table.send_changelog(partition, key, None, value_serializer="raw")


async def entries(table: TableT) -> AsyncIterator[tuple[Any, Any]]:
    """Every key of `table` with its value as it is when visited, giving the
    event loop a turn every SLICE keys: a sweep over a large table in one go
    stalls every agent of the worker for as long as it takes."""
    for i, key in enumerate(list(table.data.keys())):
        if i and not i % SLICE:
            await asyncio.sleep(0)
        value = table.data.get(key)
        if value is not None:
            yield key, value
