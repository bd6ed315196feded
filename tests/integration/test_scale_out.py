"""Scale-out on the real broker: two workers in one consumer group split the
partitions; when one is SIGKILLed mid-run the other takes over its partitions
and its table state, so nothing is lost, resends stay within what was in
flight, and events it routed before the kill are still known as routed."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.catalog import LIFECYCLE
from streams.sample import sample_events
from tests.integration.expect import (
    emails_by_notification,
    expected_requests,
    publish_events,
    tagged,
)
from tests.support import BOOTSTRAP, wait_for

pytestmark = pytest.mark.broker

# One order's events arrive on separate topics in any order, and a refund or cancel
# seen first rightly drops a later notification; traffic without them has one outcome.
ORDER_FREE = frozenset({"order_created", "payment_succeeded", "card_key_ready",
                        "account_security", "system_announcement", "marketing"})
SES_RATE = "25"  # per worker: slow enough that the kill lands mid-run


def traffic(n: int, seed: int):
    tag = uuid.uuid4().hex[:6]
    return [(t, d) for t, d in tagged(sample_events(n, seed=seed), tag) if t in ORDER_FREE]


def email_ids(events) -> set[str]:
    return {nid for nid, r in expected_requests(events).items() if r["channel"] == "email"}


def lifecycle_assignment(worker) -> list[set[tuple[str, int]]] | None:
    """Per member of the worker's consumer group, the lifecycle partitions it
    owns; None while the group is not stable."""
    group = worker.env["ORDERCAST_APP_ID"]
    prefix = worker.env["ORDERCAST_KAFKA_TOPIC_PREFIX"]
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    described = admin.describe_consumer_groups([group])[group].result(10)
    if described.state != ConsumerGroupState.STABLE:
        return None
    names = {prefix + spec.name: spec.name for spec in LIFECYCLE}
    return [{(names[tp.topic], tp.partition) for tp in m.assignment.topic_partitions
             if tp.topic in names} for m in described.members]


def lifecycle_committed(worker) -> bool:
    """The group has committed every lifecycle event the broker holds."""
    group = worker.env["ORDERCAST_APP_ID"]
    prefix = worker.env["ORDERCAST_KAFKA_TOPIC_PREFIX"]
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                         "enable.auto.commit": False})
    try:
        names = [prefix + spec.name for spec in LIFECYCLE]
        md = consumer.list_topics(timeout=10).topics
        tps = [TopicPartition(n, p) for n in names for p in md[n].partitions]
        # nothing committed (a negative offset) is fine where the log is empty
        committed = {(tp.topic, tp.partition): max(tp.offset, 0)
                     for tp in consumer.committed(tps, 10)}
        return all(committed[(tp.topic, tp.partition)] >= consumer.get_watermark_offsets(
            tp, 10)[1] for tp in tps)
    finally:
        consumer.close()


def routed_by_template(worker) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in worker.metrics().splitlines():
        if line.startswith("ordercast_notifications_routed_total{"):
            template = line.split('template="', 1)[1].split('"', 1)[0]
            out[template] = out.get(template, 0.0) + float(line.rpartition(" ")[2])
    return out


def test_two_workers_split_the_work_and_one_survives_the_others_kill(prefix, worker_factory):
    first, second = traffic(90, seed=51), traffic(500, seed=52)
    first_ids, second_ids = email_ids(first), email_ids(second)
    assert len(second_ids) > 150

    doomed = worker_factory(ORDERCAST_AWS_SES_MAX_SEND_RATE=SES_RATE)
    survivor = worker_factory(ORDERCAST_AWS_SES_MAX_SEND_RATE=SES_RATE)
    # a worker answers /readyz before it has joined the group: wait for the split
    split = wait_for(lambda: (m := lifecycle_assignment(survivor)) and len(m) == 2
                     and all(m) and m, 60, 0.5, message="two members sharing the partitions")
    partitions = int(survivor.env["ORDERCAST_KAFKA_PARTITIONS"])
    everything = {(spec.name, p) for spec in LIFECYCLE for p in range(partitions)}
    assert not split[0] & split[1] and split[0] | split[1] == everything
    publish_events(prefix, first)
    wait_for(lambda: len(emails_by_notification(first_ids)) == len(first_ids), 60,
             message="every email of the first run")
    # the group split the lifecycle partitions: each worker routed part of the run
    consumed = wait_for(lambda: (c := [w.metric("ordercast_events_consumed_total")
                                       for w in (doomed, survivor)]) and sum(c) == len(first)
                        and c, 30, message="every event of the first run to be consumed")
    assert all(consumed), f"one worker consumed nothing: {consumed}"

    def sent_by_doomed() -> float:
        return doomed.metric("ordercast_deliveries_total", channel="email", status="delivered")

    before = sent_by_doomed()
    publish_events(prefix, second)
    wait_for(lambda: sent_by_doomed() >= before + 30, 60,
             message="the doomed worker to be sending the second run")
    resent_before = doomed.metric("ordercast_ambiguous_resends_total", channel="email")
    doomed.kill()
    assert len(emails_by_notification(second_ids)) < len(second_ids), "ended before the kill"

    wait_for(lambda: lifecycle_assignment(survivor) == [everything], 40, 0.5,
             message="the survivor to own every lifecycle partition")
    wait_for(lambda: len(emails_by_notification(second_ids)) == len(second_ids), 60, 0.5,
             message="every email of the second run after the failover")
    copies = emails_by_notification(first_ids | second_ids)
    assert set(copies) == first_ids | second_ids
    duplicates = sum(len(c) - 1 for c in copies.values())
    resent = resent_before + survivor.metric("ordercast_ambiguous_resends_total", channel="email")
    assert duplicates <= resent

    # the routed-events table moved too: replaying both runs notifies nobody again
    wait_for(lambda: lifecycle_committed(survivor), 30, 0.5,
             message="the survivor to commit every lifecycle event")
    routed = routed_by_template(survivor)
    hits = survivor.metric("ordercast_dedup_hits_total", stage="routing")
    publish_events(prefix, first + second)
    replayed = len(first) + len(second)
    wait_for(lambda: survivor.metric("ordercast_dedup_hits_total", stage="routing") - hits
             >= replayed, 60, 0.5, message="every replayed event to be a routing dedup hit")
    assert survivor.metric("ordercast_dedup_hits_total", stage="routing") - hits == replayed
    assert routed_by_template(survivor) == routed, "replayed events notified someone again"
