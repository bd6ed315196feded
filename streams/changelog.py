"""Table changelog records written through librdkafka, for hot tables.

faust writes each table change through its Python producer path (a future, a
buffer, aiokafka's accumulator, a callback per record), which costs more than
the risk agent's counting itself: it writes about three records per payment
failure. ``ChangelogWriter`` serializes a record as faust would and hands it to
confluent-kafka (one C call). It joins faust's commit protocol: faust acks a
batch of events only after the agent is done with it, and flushes its producer
before committing offsets; the writer's flush is chained to that one, so
offsets are never committed ahead of the table state they produced. faust's
own recovery reads these records like any other. Other records under the same
promise (risk alerts, delivery results) can go the same way, with ``send``.
Where a write must be acknowledged before the agent goes on (delivery's
in-flight mark), ``put_acked`` returns a future for that one record. Where a
table's records must not be durable before other records (risk state saying
an alert was raised, before the alert), ``hold`` queues the table's records
until those are acknowledged: Kafka orders records within a partition only.

One writer serves the whole worker (``streams.app.changelog``): one
librdkafka producer, one thread serving its delivery reports.

Every write of a table must then go through the same writer, so the
changelog keeps the order of the local writes.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from confluent_kafka import Producer
from faust.types import AppT, TableT


class ChangelogFlushFailed(KafkaError):
    """Changelog records were not acknowledged: the commit must not happen."""


# what faust's json codec passes to orjson (faust.utils.json), for the same bytes
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _key_bytes(table: TableT, key: Any) -> bytes | None:
    if isinstance(key, str) and table.key_serializer in ("raw", "json"):
        # what faust's raw and json codecs make of a str
        return key.encode() if table.key_serializer == "raw" else orjson.dumps(key)
    return table.changelog_topic.prepare_key(key, table.key_serializer)[0]


def _value_bytes(table: TableT, value: Any, serializer: Any) -> bytes | None:
    if value is None:
        return None
    if serializer == "json" and isinstance(value, dict):
        return orjson.dumps(value, option=_ORJSON)
    return table.changelog_topic.prepare_value(value, serializer)[0]


class ChangelogWriter:
    def __init__(self, app: AppT, bootstrap: str) -> None:
        self.app = app
        self._bootstrap = bootstrap
        self._producer: Producer | None = None
        self._error: str | None = None
        self._produced = 0  # records handed to librdkafka
        self._acked = 0  # of those, acknowledged or failed (delivery reports served)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flushes: list[tuple[int, asyncio.Future]] = []  # (target, waiter)
        self._settled: list[tuple[asyncio.Future, str | None]] = []  # on the report thread
        # per table: (futures to wait for, records written since), oldest first
        self._held: dict[str, deque[tuple[list[asyncio.Future], list[tuple]]]] = {}
        self._held_tables: dict[str, TableT] = {}

    def _ensure(self) -> Producer:
        if self._producer is None:
            self._producer = Producer({
                "bootstrap.servers": self._bootstrap,
                "client.id": f"{self.app.conf.id}-changelog",
                "enable.idempotence": True,  # acks=all, no reordering on retry
                "linger.ms": 2,
                # keyed records land where faust's producer (Java's partitioner) puts them
                "partitioner": "murmur2_random",
            })
            self._loop = asyncio.get_running_loop()
            self._chain_flush()
            threading.Thread(target=self._serve_reports, name="ordercast-changelog-reports",
                             daemon=True).start()
        return self._producer

    def _chain_flush(self) -> None:
        producer = self.app.producer
        faust_flush = producer.flush

        async def flush() -> None:
            await faust_flush()
            await self.flush()

        producer.flush = flush  # faust calls app.producer.flush() before every commit

    def _on_delivery(self, err: Any, msg: Any) -> None:
        self._acked += 1  # reports are served only on the report thread
        if err is not None:
            self._error = str(err)

    def _serve_reports(self) -> None:
        """Serve delivery reports as they come and hand the settled futures to
        the event loop in one call per poll, not one per record."""
        producer, loop = self._producer, self._loop
        while not loop.is_closed():
            producer.poll(0.05)
            if self._settled or self._flushes:
                settled, self._settled = self._settled, []
                try:
                    loop.call_soon_threadsafe(self._settle, settled, self._acked)
                except RuntimeError:  # the loop closed under us: the worker is stopping
                    return

    def _settle(self, settled: list[tuple[asyncio.Future, str | None]], acked: int) -> None:
        for future, error in settled:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(ChangelogFlushFailed(f"changelog record failed: {error}"))
        waiting = []
        for target, waiter in self._flushes:
            if acked >= target:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._flushes = waiting

    def put(self, table: TableT, partition: int, key: Any, value: Any) -> None:
        """Set ``key`` locally and queue its changelog record on ``partition``."""
        table.data[key] = value
        self._record(table, partition, key, value, table.value_serializer)

    def put_acked(self, table: TableT, partition: int, key: Any, value: Any) -> asyncio.Future:
        """``put``, and a future that is done when this record is acknowledged
        (or fails with ChangelogFlushFailed)."""
        table.data[key] = value
        k, v = _key_bytes(table, key), _value_bytes(table, value, table.value_serializer)
        return self._send_acked(table.changelog_topic.get_topic_name(), k, v,
                                {"partition": partition})

    def drop(self, table: TableT, partition: int, key: Any) -> None:
        table.data.pop(key, None)
        self._record(table, partition, key, None, "raw")

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue a record for another topic under the same promise: acknowledged
        before the offsets of the batch that made it are committed. librdkafka
        sends it from its own thread at once, not when the event loop gets to it."""
        self._send(topic, key, value, {})

    def send_acked(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future:
        """``send``, and a future that is done when this record is acknowledged."""
        return self._send_acked(topic, key, value, {})

    def hold(self, table: TableT, acked: Sequence[asyncio.Future]) -> None:
        """Produce the table's changelog records written from now on only once
        ``acked`` (and anything held before) are acknowledged, in their order;
        the local values change at once. ``flush`` waits for them."""
        if not acked:
            return
        self._held_tables[table.name] = table
        self._held.setdefault(table.name, deque()).append((list(acked), []))
        for future in acked:
            future.add_done_callback(lambda _, t=table: self._release(t))

    def _record(self, table: TableT, partition: int, key: Any, value: Any,
                serializer: Any) -> None:
        held = self._held.get(table.name)
        if held:
            held[-1][1].append((partition, key, value, serializer))
        else:
            self._produce(table, partition, key, value, serializer)

    def _release(self, table: TableT) -> None:
        held = self._held.get(table.name)
        while held and all(f.done() for f in held[0][0]):
            futures, records = held[0]
            if any(f.cancelled() or f.exception() is not None for f in futures):
                return  # never produced: flush fails, offsets stay, the batch is redone
            held.popleft()
            for partition, key, value, serializer in records:
                self._produce(table, partition, key, value, serializer)

    def _send_acked(self, topic: str, key: bytes | None, value: bytes | None,
                    where: dict[str, int]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()

        def report(err: Any, msg: Any) -> None:
            self._on_delivery(err, msg)
            self._settled.append((future, None if err is None else str(err)))

        self._send(topic, key, value, where, report)
        return future

    def _produce(self, table: TableT, partition: int, key: Any, value: Any,
                 value_serializer: Any) -> None:
        k, v = _key_bytes(table, key), _value_bytes(table, value, value_serializer)
        self._send(table.changelog_topic.get_topic_name(), k, v, {"partition": partition})

    def _send(self, topic: str, key: bytes | None, value: bytes | None,
              where: dict[str, int], report: Any = None) -> None:
        producer = self._ensure()
        report = report or self._on_delivery
        try:
            producer.produce(topic, value, key, on_delivery=report, **where)
        except BufferError:  # queue full (no commit for a long while): wait it out once
            producer.flush(30)
            producer.produce(topic, value, key, on_delivery=report, **where)
        self._produced += 1

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until every record queued so far is acknowledged, or raise.

        Not librdkafka's flush(): that waits for an empty queue, which a worker
        producing all the time may not see for seconds, holding up the commit."""
        if self._producer is None:
            return
        # what is held now; holds made while we wait belong to later batches
        holds = [entry for held in self._held.values() for entry in held]
        if holds:  # held records go out as their futures settle
            await asyncio.wait({f for futures, _ in holds for f in futures}, timeout=timeout)
            for table in self._held_tables.values():
                self._release(table)
            waiting = {id(entry) for entry in holds}
            if any(id(entry) in waiting for held in self._held.values() for entry in held):
                raise ChangelogFlushFailed("table records held behind unacknowledged ones")
        target = self._produced
        if self._acked < target:
            waiter = asyncio.get_running_loop().create_future()
            self._flushes.append((target, waiter))
            await asyncio.wait({waiter}, timeout=timeout)  # on timeout the check below fails
        error, self._error = self._error, None
        if self._acked < target or error:
            raise ChangelogFlushFailed(
                f"{target - self._acked} changelog records unacknowledged; last error: {error}")
