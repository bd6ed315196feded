"""The risk split without a broker: bundles by key partition, offsets to
commit, the fence between the hand-over and the topic, and the service that
runs it (a dead splitter crashes the worker)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from confluent_kafka import TopicPartition

from bench.risk_data import generate
from schemas.codec import REGISTRY
from streams.risk import DEFAULT_RULES, fields_of, keys_for
from streams.risk_agent import partition_of, split
from streams.risk_split import OffsetFence, SplitFailed, SplitService, next_offsets


@pytest.mark.parametrize(("positions", "want"), [
    ([], []),
    ([("t", 0, 5)], [TopicPartition("t", 0, 6)]),
    # one past the last per partition, whatever the order the batch had
    ([("t", 0, 5), ("t", 1, 9), ("t", 0, 7), ("t", 0, 6)],
     [TopicPartition("t", 0, 8), TopicPartition("t", 1, 10)]),
    ([("a", 0, 1), ("b", 0, 2)], [TopicPartition("a", 0, 2), TopicPartition("b", 0, 3)]),
])
def test_next_offsets(positions, want):
    got = next_offsets(positions)
    assert sorted((tp.topic, tp.partition, tp.offset) for tp in got) == sorted(
        (tp.topic, tp.partition, tp.offset) for tp in want)


def _events() -> list[dict]:
    """Normal traffic and a card-testing burst, so keys repeat within a batch."""
    return generate(seed=3, n_normal=40, n_card_ip=1, n_card_email=1, n_many_emails=0,
                    n_slow=0, n_straddle=0).events


def test_split_sends_every_observation_to_its_keys_partition_in_order():
    events = _events()
    bundles = split([REGISTRY.encode("payment_failed", e) for e in events], partitions=8)
    got = {p: json.loads(v) for p, v in bundles.items()}
    for partition, items in got.items():
        assert all(partition_of(key.encode(), 8) == partition for key, *_ in items)
    # every (rule, key) observation once, and one key's observations in event order
    want = [(key, fields_of(e).event_id) for e in events
            for _rule, key in keys_for(fields_of(e), DEFAULT_RULES, {})]
    flat = [(key, fields[0]) for items in got.values() for key, *fields in items]
    assert sorted(flat) == sorted(want)
    for key in {k for k, _ in want}:
        assert [i for k, i in flat if k == key] == [i for k, i in want if k == key]


def test_split_skips_what_does_not_decode():
    event = _events()[0]
    bundles = split([b"not avro", REGISTRY.encode("payment_failed", event)], partitions=8)
    assert sum(len(json.loads(v)) for v in bundles.values()) == len(
        keys_for(fields_of(event), DEFAULT_RULES, {}))


class _Crashing:
    def run(self, stop: threading.Event) -> None:
        raise SplitFailed("bundles not acknowledged")


class _Steady:
    def __init__(self) -> None:
        self.stopped = threading.Event()

    def run(self, stop: threading.Event) -> None:
        stop.wait(30)
        self.stopped.set()


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_dead_splitter_crashes_the_service():
    class Service(SplitService):
        splitter = _Crashing()

    async def main():
        service = Service()
        await service.start()
        await _until(lambda: service.crashed)
        assert isinstance(service.crash_reason, SplitFailed)
        await service.stop()

    asyncio.run(main())


def test_stopping_the_service_stops_the_splitter():
    steady = _Steady()

    class Service(SplitService):
        splitter = steady

    async def main():
        service = Service()
        await service.start()
        await service.stop()
        assert steady.stopped.is_set() and not service.crashed

    asyncio.run(main())


def test_the_fence_counts_each_offset_once_in_topic_order():
    fence = OffsetFence()
    assert not fence.next_in_line(0, 3, 10), "nothing counted yet: the topic way goes first"
    assert fence.first_time(0, 3, 10)
    assert fence.next_in_line(0, 3, 11)
    assert not fence.next_in_line(0, 3, 13), "12 is missing: counting 13 would reorder"
    assert not fence.first_time(0, 3, 11), "handed over already"
    assert fence.first_time(0, 3, 12) and fence.first_time(0, 3, 13)
    assert not fence.next_in_line(0, 3, 13)
    assert not fence.next_in_line(0, 4, 14), "partitions are fenced apart"


def test_a_rebalance_resets_the_fence():
    fence = OffsetFence()
    assert fence.first_time(0, 1, 5) and fence.next_in_line(0, 1, 6)
    assert not fence.next_in_line(1, 1, 7), "after a rebalance the topic way leads again"
    assert fence.first_time(1, 1, 3), "the replay from the committed offset is counted"


class _Handing:
    def __init__(self) -> None:
        self.on_acked = None

    def run(self, stop: threading.Event) -> None:
        self.on_acked([(2, 7, b"[]")])
        stop.wait(30)


def test_acknowledged_bundles_are_handed_over_on_the_event_loop():
    got = []

    class Service(SplitService):
        splitter = _Handing()

        def hand_over(acked):
            got.append((acked, threading.current_thread() is threading.main_thread()))

    async def main():
        service = Service()
        await service.start()
        await _until(lambda: got)
        await service.stop()

    asyncio.run(main())
    assert got == [([(2, 7, b"[]")], True)]
