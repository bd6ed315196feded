"""Consumer lag per assigned partition: ordercast_consumer_lag{group,topic,partition}.

Lag is the partition's log end minus the group's committed offset, what
`kafka-consumer-groups` and KEDA's Kafka scaler see. Each worker reports only the
partitions it owns; label sets of partitions that moved to another worker are
removed so the series stay bounded. Only catalog topics are reported (table
changelogs are replayed on recovery, never committed); the label is the catalog
name, as in ordercast_events_consumed_total.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from . import metrics, watchdog
from .app import app
from .catalog import TOPICS, full_name

log = logging.getLogger(__name__)

Labels = tuple[str, str]


def partition_lags(assigned: Iterable[TP], catalog: Mapping[str, str],
                   log_end: Mapping[TP, int], committed: Mapping[TP, int | None],
                   earliest: Mapping[TP, int]) -> dict[Labels, int]:
    """Lag for every assigned catalog partition whose log end is known.

    `catalog` maps broker topic names to catalog names; a partition with nothing
    committed yet is behind by everything still in the log (its earliest offset on).
    """
    out: dict[Labels, int] = {}
    for tp in assigned:
        name = catalog.get(tp.topic)
        end = log_end.get(tp)
        if name is None or end is None:
            continue
        start = committed.get(tp)
        if start is None:
            start = earliest.get(tp, 0)
        out[(name, str(tp.partition))] = max(0, end - start)
    return out


def _catalog() -> dict[str, str]:
    return {full_name(spec.name): spec.name for spec in TOPICS}


_reported: dict[str, set[Labels]] = {}


def publish(lags: Mapping[Labels, int], group: str | None = None) -> None:
    """Set the gauge to `lags` and drop label sets no longer in it, for the
    consumer group `group` (faust's by default; the risk split has its own)."""
    group = group or app.conf.id
    reported = _reported.setdefault(group, set())
    for labels in reported - lags.keys():
        metrics.LAG.remove(group, *labels)
    for labels, value in lags.items():
        metrics.LAG.labels(group, *labels).set(value)
    _reported[group] = set(lags)


ANSWER_S = 10.0  # the consumer thread answers offset queries within this, or is stuck
QUIET_TICKS = 3  # failed ticks in a row before they are logged as a warning
_misses = {"rebalancing": 0, "offsets": 0}


def _missed(what: str, detail: str) -> None:
    """Count a tick that could not look; say so once it is no longer a blip:
    the stall watchdog is blind for as long."""
    _misses[what] += 1
    level = logging.WARNING if _misses[what] == QUIET_TICKS else logging.DEBUG
    log.log(level, "consumer lag not updated for %d ticks (%s): %s; the stall watchdog "
            "cannot look either", _misses[what], what, detail)


@app.timer(interval=5.0)
async def report_consumer_lag() -> None:
    consumer = app.consumer
    if consumer is None:
        return
    if app.rebalancing:  # the assignment is about to change; report the new one next time
        _missed("rebalancing", "a rebalance is under way")
        return
    _misses["rebalancing"] = 0
    catalog = _catalog()
    try:
        assigned = [tp for tp in consumer.assignment() if tp.topic in catalog]
        log_end = (await asyncio.wait_for(consumer.highwaters(*assigned), ANSWER_S)
                   if assigned else {})
        # faust's own record of the group's committed offsets (seeked on assignment,
        # updated on every commit): no round trip to the coordinator
        committed = {tp: consumer._committed_offset.get(tp) for tp in assigned}
        fresh = [tp for tp, offset in committed.items() if offset is None and log_end.get(tp)]
        earliest = (await asyncio.wait_for(consumer.earliest_offsets(*fresh), ANSWER_S)
                    if fresh else {})
    except (KafkaError, ConsumerNotStarted, TimeoutError) as exc:
        _missed("offsets", repr(exc))
        return
    _misses["offsets"] = 0
    publish(partition_lags(assigned, catalog, log_end, committed, earliest))
    if assigned:
        await watchdog.check(consumer, assigned, log_end, committed, earliest)
