"""The foundation on the real broker: publish every event type, the worker
decodes them, and undecodable messages are dead-lettered without stopping it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter

import fastavro
import pytest
from confluent_kafka import Producer

from schemas.codec import REGISTRY
from streams.catalog import EVENTS_DLT
from streams.deadletter import read_headers
from streams.sample import sample_events
from tests.support import BOOTSTRAP, ROOT, consume, wait_for

pytestmark = pytest.mark.broker


def _publish_cli(prefix: str, lines: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORDERCAST_KAFKA_TOPIC_PREFIX": prefix}
    return subprocess.run([sys.executable, "-m", "streams", "publish", "-"],
                          input="\n".join(lines), capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_every_event_type_is_published_consumed_and_decoded(prefix, worker_factory):
    events = sample_events(40, seed=11)
    lines = [json.dumps({"type": t, "data": d}) for t, d in events]
    result = _publish_cli(prefix, lines)
    assert result.returncode == 0, result.stderr
    assert "published 40, rejected 0" in result.stdout

    worker = worker_factory()
    expected = Counter(t for t, _ in events)
    assert len(expected) == 10

    def consumed() -> bool:
        return all(worker.metric("ordercast_events_consumed_total", event_type=t) == n
                   for t, n in expected.items())

    wait_for(consumed, 90, message="worker to consume every event type")
    assert worker.metric("ordercast_dead_letters_total") == 0

    # /consumer: what the stall watchdog sees; the events' partitions read to their end
    def caught_up() -> dict | None:
        status, body = worker.get("/consumer")
        assert status == 200
        state = json.loads(body)
        created = {k: v for k, v in state["partitions"].items()
                   if k.startswith(f"{prefix}orders.created[")}
        done = created and all(p["log_end"] is not None and p["position"] == p["log_end"]
                               for p in created.values())
        return state if done else None

    state = wait_for(caught_up, 30, message="the watchdog's view of orders.created")
    assert state["flow_active"] and not state["rebalancing"] and not state["in_recovery"]


def test_invalid_lines_are_reported_and_valid_ones_still_published(prefix):
    (t1, d1), (t2, d2) = [e for e in sample_events(40, seed=12) if e[0] == "order_created"][:2]
    bad = {"type": t2, "data": {**d2, "envelope": {**d2["envelope"], "merchant_id": None}}}
    lines = [json.dumps({"type": t1, "data": d1}), json.dumps(bad), "{oops",
             json.dumps({"type": t2, "data": d2})]
    result = _publish_cli(prefix, lines)
    assert result.returncode == 1
    assert "line 2: field 'merchant_id'" in result.stderr
    assert "line 3: not JSON" in result.stderr
    assert "published 2, rejected 2" in result.stdout
    got = consume(f"{prefix}orders.created", 2, timeout=30)
    assert sorted(REGISTRY.decode(m.value())["envelope"]["event_id"] for m in got) == sorted(
        [d1["envelope"]["event_id"], d2["envelope"]["event_id"]])


def _truncated_record() -> bytes:
    """A payment_failed header whose body lacks the required fields after the envelope."""
    schema = REGISTRY.schema("payment_failed")
    envelope_only = {"type": "record", "name": "Partial", "fields": schema["fields"][:1]}
    _, data = next(e for e in sample_events(40, seed=13) if e[0] == "payment_failed")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(envelope_only),
                               {"envelope": data["envelope"]})
    return b"\xc3\x01" + REGISTRY.fingerprint("payment_failed") + buf.getvalue()


def test_undecodable_messages_are_dead_lettered_and_the_worker_goes_on(prefix, worker_factory):
    worker = worker_factory()
    topic = f"{prefix}orders.payment-failed"
    poison = {
        b"garbage": os.urandom(64),
        b"unknown-schema": b"\xc3\x01" + b"\x13\x37" * 4 + b"\x00\x02",
        b"missing-field": _truncated_record(),
    }
    good_type, good = next(e for e in sample_events(40, seed=14) if e[0] == "payment_failed")
    prod = Producer({"bootstrap.servers": BOOTSTRAP})
    for key, value in poison.items():
        prod.produce(topic, value, key, partition=0)
    prod.produce(topic, REGISTRY.encode(good_type, good), b"good", partition=0)
    assert prod.flush(30) == 0

    wait_for(lambda: worker.metric("ordercast_events_consumed_total",
                                   event_type="payment_failed") == 1, 60,
             message="the good event after the poison to be processed")
    letters = consume(f"{prefix}{EVENTS_DLT}", 3, timeout=30)
    assert len(letters) == 3
    by_key = {m.key(): m for m in letters}
    assert set(by_key) == set(poison)
    offsets = set()
    for key, msg in by_key.items():
        headers = read_headers(msg.headers())
        assert headers["original-topic"] == topic
        assert headers["original-partition"] == "0"
        offsets.add(int(headers["original-offset"]))
        assert headers["error-message"]
        record = REGISTRY.decode(msg.value(), expect="dead_letter")
        assert record["payload"] == poison[key]
        assert record["error_class"] == headers["error-class"]
    assert by_key[b"garbage"].headers() and read_headers(
        by_key[b"garbage"].headers())["error-class"] == "NotSingleObject"
    assert read_headers(by_key[b"unknown-schema"].headers())["error-class"] == "UnknownSchema"
    assert read_headers(by_key[b"missing-field"].headers())["error-class"] == "MalformedBody"
    assert len(offsets) == 3
    assert worker.proc.poll() is None
