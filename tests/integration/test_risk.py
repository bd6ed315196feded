"""The risk agent on the real broker matches the plain-Python reference exactly,
also when the worker is SIGKILLed mid-stream and restarted."""

from __future__ import annotations

import math

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.risk_data import generate, reference_alerts
from schemas.codec import REGISTRY
from streams.catalog import RISK_ALERTS, RISK_BY_KEY
from streams.risk import DEFAULT_RULES, keys_for
from tests.conftest import PARTITIONS, app_id
from tests.support import BOOTSTRAP, consume, wait_for

pytestmark = pytest.mark.broker


def _stream(seed: int):
    labelled = generate(seed=seed, n_normal=600, n_card_ip=3, n_card_email=3, n_many_emails=2,
                        n_slow=2, n_straddle=3, duration_s=1800, n_merchants=5)
    events = labelled.events
    expected = {(a.rule, a.key.split(":", 1)[1], a.window_start)
                for a in reference_alerts(events, DEFAULT_RULES, {})}
    observations = sum(len(keys_for(e, DEFAULT_RULES, {})) for e in events)
    return events, expected, observations


def _publish(prefix: str, events) -> None:
    prod = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    for event in events:
        prod.produce(f"{prefix}orders.payment-failed", REGISTRY.encode("payment_failed", event),
                     event["envelope"]["order_id"].encode())
    assert prod.flush(60) == 0


def _alert_messages(prefix: str, expected_count: int) -> list:
    return consume(f"{prefix}{RISK_ALERTS}", lambda m: len(
        {REGISTRY.decode(x.value())["alert_id"] for x in m}) >= expected_count, timeout=60)


def _alerts(prefix: str, expected_count: int) -> list[dict]:
    return [REGISTRY.decode(m.value(), expect="risk_alert")
            for m in _alert_messages(prefix, expected_count)]


def test_alerts_match_the_reference_exactly(prefix, worker_factory):
    events, expected, observations = _stream(seed=21)
    assert expected, "the labelled stream must contain attacks"
    worker = worker_factory()
    _publish(prefix, events)
    wait_for(lambda: worker.metric("ordercast_risk_observations_total") >= observations, 120,
             message="every event counted")
    messages = _alert_messages(prefix, len(expected))
    alerts = [REGISTRY.decode(m.value(), expect="risk_alert") for m in messages]
    got = [(a["rule"], a["key_value"], a["window_start"]) for a in alerts]
    assert len(got) == len(set(got)), "one alert per key, rule and window"
    for m in messages:  # keyed by the flagged value, partitioned as Java clients do
        assert m.key() == REGISTRY.decode(m.value())["key_value"].encode()
        assert m.partition() == (murmur2(m.key()) & 0x7FFFFFFF) % PARTITIONS
    assert set(got) == expected
    for alert in alerts:
        assert alert["count"] == alert["threshold"]
        assert alert["window_end"] - alert["window_start"] == 600_000
        assert len(alert["sample_order_ids"]) <= 10
    assert worker.metric("ordercast_risk_alerts_total") == len(expected)
    # the split's own consumer group reports its lag like faust's, and it drains
    wait_for(lambda: _split_lag(worker) == (PARTITIONS, 0), 30,
             message="split lag reported as drained")


def _split_lag(worker) -> tuple[int, float]:
    """(series, total) of the payment-failed lag of the risk split's group."""
    lines = [line for line in worker.metrics().splitlines()
             if line.startswith("ordercast_consumer_lag{") and '-split"' in line
             and 'topic="orders.payment-failed"' in line]
    return len(lines), sum(float(line.rpartition(" ")[2]) for line in lines)


def test_windows_survive_a_sigkill(prefix, worker_factory):
    events, expected, observations = _stream(seed=22)
    half = len(events) // 2
    worker = worker_factory()
    _publish(prefix, events[:half])
    first_half = sum(len(keys_for(e, DEFAULT_RULES, {})) for e in events[:half])
    wait_for(lambda: worker.metric("ordercast_risk_observations_total") >= first_half, 120,
             message="the first half counted")
    worker.kill()
    _publish(prefix, events[half:])
    restarted = worker_factory()
    wait_for(lambda: restarted.metric("ordercast_risk_observations_total")
             >= observations - first_half, 120, message="the second half counted")
    alerts = _alerts(prefix, len(expected))
    got = {(a["rule"], a["key_value"], a["window_start"]) for a in alerts}
    assert got == expected
    # at-least-once may repeat an alert after the kill, but always with the same id
    by_id: dict[str, tuple] = {}
    for a in alerts:
        ident = (a["rule"], a["key_value"], a["window_start"])
        assert by_id.setdefault(a["alert_id"], ident) == ident


def test_the_split_starts_where_the_faust_group_left_off(prefix, worker_factory):
    """The split once ran in faust's group: a first start resumes from that
    group's offsets instead of replaying the topic (and re-raising old alerts)."""
    events, _, _ = _stream(seed=23)
    half = len(events) // 2
    _publish(prefix, events[:half])
    _commit_at_end(app_id(prefix), f"{prefix}orders.payment-failed")
    _publish(prefix, events[half:])
    second = sum(len(keys_for(e, DEFAULT_RULES, {})) for e in events[half:])
    worker = worker_factory()
    wait_for(lambda: worker.metric("ordercast_risk_observations_total") >= second
             and _split_lag(worker) == (PARTITIONS, 0) and _by_key_lag(worker) == 0, 120,
             message="the second half split and counted")
    assert worker.metric("ordercast_risk_observations_total") == second


def _commit_at_end(group: str, topic: str) -> None:
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                         "enable.auto.commit": False})
    try:
        ends = [TopicPartition(topic, p, consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1]) for p in range(PARTITIONS)]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def _by_key_lag(worker) -> float:
    """The count stage's lag on the by-key topic: 0 once every bundle is counted."""
    lines = [line for line in worker.metrics().splitlines()
             if line.startswith("ordercast_consumer_lag{") and RISK_BY_KEY in line]
    return sum(float(line.rpartition(" ")[2]) for line in lines) if lines else math.inf
