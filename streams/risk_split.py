"""Hop 1 of the risk agent on librdkafka: failed payments, regrouped by risk key.

Splitting is stateless, so it needs none of faust's table machinery, and it
handles every failed payment: through faust's consumer (a hop between threads
per fetch and a task per message) it took most of the risk worker's time and
held failures back for hundreds of milliseconds at 2,000/s. Here librdkafka
fetches in its own threads, and a batch is what arrives within a few
milliseconds of its first failure (ORDERCAST_RISK_SPLIT_BATCH_MS).

At least once: a batch's offsets are stored only after its bundles are
acknowledged (the auto-commit commits stored offsets only), so a crash replays
the batch, and the count stage ignores events it has already counted
(streams.risk.engine). Its own consumer group, ``<risk app id>-split``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from faust.types import TP
from mode import Service

from . import lag

log = logging.getLogger(__name__)

Split = Callable[[Sequence[bytes]], dict[int, bytes]]  # values -> by-key partition -> bundle
Acked = list[tuple[int, int, bytes]]  # (by-key partition, offset, bundle), in produce order


class SplitFailed(RuntimeError):
    """Bundles were not acknowledged: the batch's offsets must not be committed."""


def next_offsets(positions: Iterable[tuple[str, int, int]]) -> list[TopicPartition]:
    """The offsets to commit after the messages at ``positions`` (topic,
    partition, offset): one past the last, per partition."""
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class OffsetFence:
    """Which by-key records this worker has counted, for the two ways a bundle
    reaches the count stage: handed over in-process right after the split's
    producer got its acknowledgement, or fetched from the topic by faust.

    Per partition, the offset of the last record counted by either way. A
    hand-over is counted only when it is the very next record (so counting
    keeps the topic's order); the topic way skips what was handed over. Any
    rebalance forgets everything: the topic way starts over from the committed
    offsets, and counting is idempotent."""

    def __init__(self) -> None:
        self._done: dict[int, int] = {}
        self._generation = 0

    def _sync(self, generation: int) -> None:
        if generation != self._generation:
            self._done.clear()
            self._generation = generation

    def next_in_line(self, generation: int, partition: int, offset: int) -> bool:
        """A hand-over: True (and recorded) if it directly follows the last counted."""
        self._sync(generation)
        done = self._done.get(partition)
        if done is None or offset != done + 1:
            return False
        self._done[partition] = offset
        return True

    def first_time(self, generation: int, partition: int, offset: int) -> bool:
        """From the topic: True (and recorded) unless it was counted already."""
        self._sync(generation)
        done = self._done.get(partition)
        if done is not None and offset <= done:
            return False
        self._done[partition] = offset
        return True


class Splitter:
    """The consume, split, produce, store loop; ``run`` blocks until ``stop``.
    ``on_acked``, if set, gets each batch's acknowledged bundles (on this thread)."""

    def __init__(self, *, bootstrap: str, group: str, source: str, target: str, split: Split,
                 lag_name: str, window_s: float, seed_group: str | None = None,
                 batch: int = 1000, lag_every_s: float = 5.0) -> None:
        self.bootstrap, self.group, self.source, self.target = bootstrap, group, source, target
        self.seed_group = seed_group
        self.split, self.lag_name = split, lag_name
        self.window_s, self.batch, self.lag_every_s = window_s, batch, lag_every_s
        self.on_acked: Callable[[Acked], None] | None = None
        self._error: str | None = None
        self._acked: Acked = []

    def _clients(self) -> tuple[Consumer, Producer]:
        consumer = Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": self.group,
            "client.id": f"{self.group}-consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.offset.store": False,  # stored after the bundles are acknowledged
            "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
            "session.timeout.ms": 10_000, "heartbeat.interval.ms": 2000,  # as faust's group
            "fetch.wait.max.ms": 100,
        })
        producer = Producer({
            "bootstrap.servers": self.bootstrap, "client.id": f"{self.group}-producer",
            "enable.idempotence": True,  # acks=all, no reordering on retry
            "linger.ms": 1,
        })
        return consumer, producer

    def run(self, stop: threading.Event) -> None:
        consumer, producer = self._clients()
        consumer.subscribe([self.source], on_assign=self._seed)
        next_lag = time.monotonic() + self.lag_every_s
        try:
            while not stop.is_set():
                self.step(consumer, producer, stop)
                if time.monotonic() >= next_lag:
                    self.report_lag(consumer)
                    next_lag = time.monotonic() + self.lag_every_s
        finally:
            consumer.close()  # commits what is stored, leaves the group
            producer.flush(10)

    def step(self, consumer: Consumer, producer: Producer, stop: threading.Event) -> int:
        """One batch: what arrives within ``window_s`` of its first message, up to
        ``batch`` messages. Each batch makes a record per by-key partition, and
        faust's per-record cost on the count stage is what the window saves."""
        first = consumer.poll(0.1)
        if first is None:
            return 0
        messages = [first, *consumer.consume(self.batch - 1, timeout=self.window_s)]
        good = []
        for m in messages:
            err = m.error()
            if err is None:
                good.append(m)
            elif err.fatal():
                raise KafkaException(err)
            else:
                log.warning("risk split: %s", err)
        self._acked = []
        for partition, bundle in self.split([m.value() for m in good]).items():
            producer.produce(self.target, bundle, partition=partition,
                             on_delivery=self._delivered)
        # librdkafka retries through a broker outage (up to message.timeout.ms);
        # until then the batch waits, and its offsets stay unstored
        while producer.flush(1.0) and not self._error:
            if stop.is_set():
                return 0
        if self._error:
            raise SplitFailed(f"risk bundles not acknowledged: {self._error}")
        if self.on_acked is not None and self._acked:
            self.on_acked(self._acked)
        try:
            consumer.store_offsets(offsets=next_offsets(
                (m.topic(), m.partition(), m.offset()) for m in good))
        except KafkaException as exc:  # revoked meanwhile: the new owner redoes the batch
            log.info("risk split offsets not stored: %s", exc)
        return len(good)

    def _seed(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions this group has committed nothing for start where
        ``seed_group`` did (faust's group, which read them before the split had
        a group of its own), not at the earliest offset: replaying the topic's
        whole retention would raise again the alerts of windows long closed."""
        if not self.seed_group or not partitions:
            return
        try:
            fresh = [tp for tp in consumer.committed(partitions, timeout=10) if tp.offset < 0]
            if not fresh:
                return
            seeder = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.seed_group,
                               "enable.auto.commit": False})
            try:
                seeded = {(tp.topic, tp.partition): tp.offset
                          for tp in seeder.committed(fresh, timeout=10) if tp.offset >= 0}
            finally:
                seeder.close()  # never subscribed: it does not touch that group
        except KafkaException as exc:
            log.warning("risk split: no seed offsets from %s (%s); starting at the earliest",
                        self.seed_group, exc)
            return
        if seeded:
            log.info("risk split: %d partitions start where %s left off", len(seeded),
                     self.seed_group)
            consumer.assign([TopicPartition(tp.topic, tp.partition,
                                            seeded.get((tp.topic, tp.partition), tp.offset))
                             for tp in partitions])

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._error = str(err)
        elif self.on_acked is not None:
            self._acked.append((msg.partition(), msg.offset(), msg.value()))

    def report_lag(self, consumer: Consumer) -> None:
        """ordercast_consumer_lag for this group, as streams.lag has it for faust's."""
        try:
            assigned = consumer.assignment()
            committed = consumer.committed(assigned, timeout=5) if assigned else []
        except KafkaException as exc:
            log.debug("risk split lag not updated: %s", exc)
            return
        log_end, offsets, earliest = {}, {}, {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, cached=True)
            key = TP(tp.topic, tp.partition)
            if high >= 0:  # known once something was fetched from it
                log_end[key], earliest[key] = high, max(low, 0)
            offsets[key] = tp.offset if tp.offset >= 0 else None
        lags = lag.partition_lags(list(offsets), {self.source: self.lag_name}, log_end,
                                  offsets, earliest)
        lag.publish(lags, self.group)


class SplitService(Service):
    """Runs a Splitter on its own thread for the worker's lifetime; the worker
    crashes (and is restarted) if the splitter dies."""

    splitter: Splitter  # set by the subclass the app registers
    # runs on the event loop with each batch's acknowledged bundles, if set
    hand_over: Callable[[Acked], None] | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done: asyncio.Future | None = None

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        self._done = done
        hand_over = type(self).hand_over
        if hand_over is not None:
            self.splitter.on_acked = partial(loop.call_soon_threadsafe, hand_over)

        def run() -> None:
            try:
                self.splitter.run(self._stop)
            except BaseException as exc:  # handed to the loop: the worker crashes
                loop.call_soon_threadsafe(_settle, done, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, None)

        self._thread = threading.Thread(target=run, name="risk-split", daemon=True)
        self._thread.start()

    @Service.task
    async def _watch(self) -> None:
        assert self._done is not None
        error = await self._done
        if error is not None and not self._stop.is_set():
            log.error("risk split stopped: %r", error)
            await self.crash(error)

    async def on_stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 15)


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if not done.done():
        done.set_result(error)
