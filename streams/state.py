"""Table writes with an explicit changelog partition.

Faust derives a table write's changelog partition from the event being
processed. Timers and sweeps run outside any event, so they name the partition
themselves: the one the key was first written from, which they store with it.
"""

from __future__ import annotations

from typing import Any

from faust.types import TableT
from faust.types.tuples import FutureMessage


def put(table: TableT, partition: int, key: Any, value: Any) -> FutureMessage:
    """Set `key` locally and queue its changelog record; await the result to
    know the record is acknowledged."""
    table.data[key] = value
    return table.send_changelog(partition, key, value)


def drop(table: TableT, partition: int, key: Any) -> None:
    table.data.pop(key, None)
    table.send_changelog(partition, key, None, value_serializer="raw")
