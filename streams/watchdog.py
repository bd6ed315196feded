"""Stalled-partition watchdog.

After a rebalance faust can leave a partition assigned to this worker but never
fetched again (faust-streaming issue #629): its records wait in Kafka until the
next rebalance, which on a quiet group may never come. Every few seconds the
lag timer (streams.lag) hands it each assigned catalog partition's log end,
and it compares them with where faust's fetch loop is. It acts only when the
worker as a whole has consumed nothing for ``stall_s`` while some partition is
behind: a busy worker (a backlog, a full stream buffer, slow commits) is never
mistaken for a stuck one. The stuck partition is then handed back to faust's
fetch set, and if the worker is still idle and behind ``stall_s`` later it asks
the group to rebalance.

A partition faust has read nothing from since the assignment is placed where
aiokafka's fetcher stands (on a restarted worker with nothing new after the
group's committed offset, that is the log end). One with no position in
either (aiokafka still waiting for a committed offset or a reset) counts as
sitting at its earliest offset, and goes straight to the rebalance: a seek did
not help there, a new assignment did.

Records faust's fetch loop read but never handed to an agent (its position at
the log end, nothing acknowledged, the committed offset stuck) are fetched
again from the committed offset when it has not moved for ``stall_s`` while no
record at all was in a stream and the worker consumed nothing (processing is
idempotent: delivery's sends ledger, routing's dedup). Every step is logged
with what was found and counted in ordercast_consumer_stalls_total{action}.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from . import metrics
from .app import app

log = logging.getLogger(__name__)

STALL_S = 20.0


@dataclass
class Progress:
    """Each partition's consumed position, since when it has been behind, and
    when anything last moved."""

    seen: dict[TP, int | None] = field(default_factory=dict)
    behind_since: dict[TP, float] = field(default_factory=dict)
    moved_at: float | None = None  # last time any partition's position changed
    commits: dict[TP, int | None] = field(default_factory=dict)  # committed, when stuck
    commit_since: dict[TP, float] = field(default_factory=dict)

    def stalled(self, positions: Mapping[TP, int | None], log_end: Mapping[TP, int],
                now: float, stall_s: float = STALL_S) -> list[TP]:
        """Partitions behind their log end for ``stall_s`` seconds, if no
        partition of this worker has moved for as long; otherwise none."""
        behind = {tp for tp, pos in positions.items()
                  if pos is not None and log_end.get(tp) is not None and pos < log_end[tp]}
        self.behind_since = {tp: self.behind_since.get(tp, now) for tp in behind}
        if self.moved_at is None or any(self.seen.get(tp) != pos
                                        for tp, pos in positions.items()):
            self.moved_at = now
        self.seen = dict(positions)
        if now - self.moved_at < stall_s:
            return []
        return sorted(tp for tp, since in self.behind_since.items() if now - since >= stall_s)

    def unacknowledged(self, committed: Mapping[TP, int | None],
                       positions: Mapping[TP, int | None], log_end: Mapping[TP, int],
                       in_streams: set[TP], now: float, stall_s: float = STALL_S) -> list[TP]:
        """Partitions read past their committed offset, whose committed offset
        has not moved for ``stall_s`` while no record at all was in a stream
        and the worker consumed nothing: records fetched and then lost on the way
        to the agents, neither processed nor acknowledged. Call after stalled().

        Any record in a stream (a retry waiting for its due time, a slow send)
        restarts the clock: other records may then sit in a channel queue behind
        it, which looks the same from here and is no loss."""
        stuck: dict[TP, float] = {}
        for tp, done in committed.items():
            pos, end = positions.get(tp), log_end.get(tp)
            if done is None or pos is None or end is None or in_streams:
                continue
            if done < pos and done < end:
                same = self.commits.get(tp) == done
                stuck[tp] = self.commit_since.get(tp, now) if same else now
        self.commit_since = stuck
        self.commits = {tp: committed[tp] for tp in stuck}
        if self.moved_at is None or now - self.moved_at < stall_s:
            return []
        return sorted(tp for tp, since in stuck.items() if now - since >= stall_s)

    def restart(self, now: float) -> None:
        """Give the worker a fresh ``stall_s`` after a repair."""
        self.moved_at = now


_progress = Progress()
_repaired: set[TP] = set()  # repaired once already: the next stall asks for a rebalance
_log_end: dict[TP, int] = {}  # as of the last tick, for snapshot()


def _positions(consumer: Any, assigned: list[TP]) -> dict[TP, int | None]:
    """Where faust's fetch loop is in each partition (the next offset it will
    read), from faust's own bookkeeping, else aiokafka's: nothing here calls
    into the consumer thread, which on every tick disturbed faust's start-up
    after a restart."""
    out: dict[TP, int | None] = {}
    for tp in assigned:
        read = consumer._read_offset.get(tp)
        out[tp] = read + 1 if read is not None else consumer._committed_offset.get(tp)
        if out[tp] is None:
            # faust has read nothing since the assignment (on a restarted worker,
            # also when nothing new came after the group's committed offset):
            # aiokafka's own position says where fetching stands
            out[tp] = _fetch_state(consumer, tp).get("fetch_position")
    return out


def _diagnosis(consumer: Any, tp: TP) -> dict[str, object]:
    return {
        "faust_active": tp in (consumer._active_partitions or ()),
        "faust_paused": tp in consumer._paused_partitions,
        "faust_buffered": tp in consumer._buffered_partitions,
        **_fetch_state(consumer, tp),
    }


def _fetch_state(consumer: Any, tp: TP) -> dict[str, object]:
    """aiokafka's own view of the partition (read without calling into its
    thread): whether it has a position to fetch from, is waiting for one
    (a committed offset or a reset), or is paused."""
    try:
        aio = consumer._thread._consumer
        state = aio._subscription.subscription.assignment.state_value(tp)
    except AttributeError:  # not started, or no subscription yet
        return {}
    if state is None:
        return {"fetch_state": "unassigned"}
    return {"fetch_state": state._status.name.lower(), "fetch_position": state._position,
            "fetch_awaiting_reset": state.awaiting_reset, "fetch_paused": state.paused,
            "fetch_committed_pending": len(state._committed_futs)}


def snapshot(consumer: Any) -> dict[str, Any]:
    """What the watchdog sees, for /consumer: flags that stop all fetching, and
    per assigned partition faust's position, committed offset and fetch state."""
    assigned = sorted(consumer.assignment())
    positions = _positions(consumer, assigned)
    return {
        "flow_active": consumer.flow_active, "in_recovery": app.in_recovery,
        "rebalancing": app.rebalancing,
        "partitions": {f"{tp.topic}[{tp.partition}]": {
            "position": positions[tp], "committed": consumer._committed_offset.get(tp),
            "log_end": _log_end.get(tp), **_diagnosis(consumer, tp)} for tp in assigned},
    }


def _or_earliest(offsets: Mapping[TP, int | None],
                 earliest: Mapping[TP, int]) -> dict[TP, int | None]:
    """``offsets`` with the unknown ones replaced by the partition's earliest offset."""
    return {tp: earliest.get(tp) if off is None else off for tp, off in offsets.items()}


async def _rejoin(aio: Any) -> None:
    aio._coordinator.request_rejoin()


async def check(consumer: Any, assigned: list[TP], log_end: Mapping[TP, int],
                committed: Mapping[TP, int | None], earliest: Mapping[TP, int]) -> None:
    """One watchdog tick, on the lag timer's fresh offsets (streams.lag): faust's
    committed offsets, and where partitions with nothing committed yet start."""
    _log_end.clear()
    _log_end.update(log_end)
    if app.in_recovery or not consumer.flow_active:
        _progress.seen.clear()  # pauses are deliberate now; start over afterwards
        return
    now = app.loop.time()
    # no position at all: neither faust nor aiokafka has one since the assignment
    # (aiokafka waits for the group's committed offset or a reset): where the
    # group would start it is the earliest offset, as far as we know
    positions = _positions(consumer, assigned)
    unplaced = {tp for tp, pos in positions.items() if pos is None}
    positions = _or_earliest(positions, earliest)
    stalled = _progress.stalled(positions, log_end, now)
    # nothing committed yet: the group starts such a partition at its earliest offset
    committed = _or_earliest(committed, earliest)
    in_streams = {m.tp for m in list(consumer._unacked_messages)}
    lost = _progress.unacknowledged(committed, positions, log_end, in_streams, now)
    if not stalled and not lost:
        if _progress.moved_at == now:
            _repaired.clear()  # consuming again: a later stall starts from the top
        return
    # a partition never fetched: seeking it did not help where it was seen, a new
    # assignment did, so it goes straight to the last step
    if _repaired & {*stalled, *lost} or unplaced & set(stalled):
        tp = next(iter((_repaired | unplaced) & {*stalled, *lost}))
        log.warning("%d partitions stuck with nothing consumed (never fetched, or repaired "
                    "once already), e.g. %s[%d] (%s): asking the group to rebalance",
                    len({*stalled, *lost}), tp.topic, tp.partition, _diagnosis(consumer, tp))
        metrics.STALLS.labels("rebalance").inc()
        _repaired.clear()
        try:
            thread = consumer._thread
            await thread.call_thread(_rejoin, thread._ensure_consumer())
        except (KafkaError, ConsumerNotStarted, AttributeError) as exc:
            log.warning("could not ask for a rebalance: %r", exc)
    else:
        for tp in lost:
            log.warning("partition %s[%d] read to %s but committed at %d for %.0f s with "
                        "nothing in any stream (%s): fetching again from %d", tp.topic,
                        tp.partition, positions[tp], committed[tp], STALL_S,
                        _diagnosis(consumer, tp), committed[tp])
            metrics.STALLS.labels("rewind").inc()
            _repaired.add(tp)
            try:  # on the consumer's own thread; faust's read offset follows
                await consumer.seek_wait({tp: committed[tp]})
            except (KafkaError, ConsumerNotStarted, TimeoutError) as exc:
                log.warning("could not fetch %s[%d] again: %r", tp.topic, tp.partition, exc)
        for tp in stalled:
            if tp in lost:
                continue  # the seek above fetches it again
            log.warning("partition %s[%d] behind its log end, nothing consumed for %.0f s "
                        "(%s): resuming it", tp.topic, tp.partition, STALL_S,
                        _diagnosis(consumer, tp))
            metrics.STALLS.labels("resume").inc()
            consumer._buffered_partitions.discard(tp)
            consumer.resume_partitions([tp])
            _repaired.add(tp)
    _progress.restart(now)
