"""Stalled-partition watchdog.

After a rebalance faust can leave a partition assigned to this worker but never
fetched again (faust-streaming issue #629): its records wait in Kafka until the
next rebalance, which on a quiet group may never come. Every few seconds the
watchdog compares each assigned catalog partition's fetch position with its log
end; a partition that is behind and has not moved for ``stall_s`` is repaired
in place (handed back to faust's fetch set), and if that does not help by the
next check, the worker asks the group to rebalance. Both steps are logged with
what was found and counted in ordercast_consumer_stalls_total.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from . import metrics
from .app import app
from .catalog import TOPICS, full_name

log = logging.getLogger(__name__)

STALL_S = 20.0


@dataclass
class Progress:
    """When each partition last moved: its fetch position or its committed offset."""

    seen: dict[TP, tuple[tuple[int | None, int | None], float]] = field(default_factory=dict)

    def stalled(self, positions: Mapping[TP, int | None], committed: Mapping[TP, int | None],
                log_end: Mapping[TP, int], now: float, stall_s: float = STALL_S) -> list[TP]:
        """Partitions behind their log end that neither fetched nor committed
        anything for ``stall_s`` seconds. (A full stream buffer stops fetching
        but not committing; a retry agent waiting for a due time stops
        committing but has fetched up to the log end.) Partitions no longer
        given are forgotten."""
        out = []
        for tp in list(self.seen):
            if tp not in positions:
                del self.seen[tp]
        for tp, position in positions.items():
            end = log_end.get(tp)
            if position is None or end is None or position >= end:
                self.seen.pop(tp, None)
                continue
            mark = (position, committed.get(tp))
            last = self.seen.get(tp)
            if last is None or last[0] != mark:
                self.seen[tp] = (mark, now)
            elif now - last[1] >= stall_s:
                out.append(tp)
        return out

    def restart(self, tp: TP, now: float) -> None:
        """Give a repaired partition a fresh ``stall_s`` before the next step."""
        if tp in self.seen:
            self.seen[tp] = (self.seen[tp][0], now)


_progress = Progress()
_repaired: set[TP] = set()  # repaired once already: the next stall asks for a rebalance


# aiokafka's state lives on faust's consumer thread: read and change it there.

async def _positions(aio, tps: list[TP]) -> dict[TP, int | None]:
    assignment = aio._subscription.subscription.assignment
    return {tp: getattr(assignment.state_value(tp), "position", None) for tp in tps}


async def _diagnosis(consumer, aio, tp: TP) -> dict[str, object]:
    state = aio._subscription.subscription.assignment.state_value(tp)
    return {
        "faust_active": tp in (consumer._active_partitions or ()),
        "faust_paused": tp in consumer._paused_partitions,
        "faust_buffered": tp in consumer._buffered_partitions,
        "aiokafka_paused": bool(state and state.paused),
        "records_waiting": tp in aio._fetcher._records,
    }


async def _resume(aio, tp: TP) -> None:
    if aio._subscription.subscription.assignment.state_value(tp).paused:
        aio.resume(tp)


async def _rejoin(aio) -> None:
    aio._coordinator.request_rejoin()


@app.timer(interval=5.0)
async def watch_partitions() -> None:
    consumer = app.consumer
    if consumer is None or app.rebalancing or app.in_recovery or not consumer.flow_active:
        _progress.seen.clear()  # pauses are deliberate now; start over afterwards
        return
    catalog = {full_name(spec.name) for spec in TOPICS}
    try:
        thread = consumer._thread
        aio = thread._ensure_consumer()
        assigned = [tp for tp in consumer.assignment() if tp.topic in catalog]
        if not assigned:
            return
        positions = await thread.call_thread(_positions, aio, assigned)
        log_end = await consumer.highwaters(*assigned)
        now = app.loop.time()
        committed = {tp: consumer._committed_offset.get(tp) for tp in assigned}
        for tp in _progress.stalled(positions, committed, log_end, now):
            found = await thread.call_thread(_diagnosis, consumer, aio, tp)
            if tp in _repaired:
                log.warning("partition %s[%d] still stalled (%s): asking the group to "
                            "rebalance", tp.topic, tp.partition, found)
                metrics.STALLS.labels("rebalance").inc()
                _repaired.clear()
                _progress.seen.clear()
                await thread.call_thread(_rejoin, aio)
                return
            log.warning("partition %s[%d] behind its log end and not fetched for %.0f s "
                        "(%s): resuming it", tp.topic, tp.partition, STALL_S, found)
            metrics.STALLS.labels("resume").inc()
            consumer._buffered_partitions.discard(tp)
            consumer.resume_partitions([tp])
            await thread.call_thread(_resume, aio, tp)
            _repaired.add(tp)
            _progress.restart(tp, now)
    except (KafkaError, ConsumerNotStarted, TimeoutError, AttributeError) as exc:
        log.debug("partition watchdog skipped: %r", exc)
