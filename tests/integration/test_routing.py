"""Routing on the real broker: a seeded run yields exactly the notification
requests the pure rules imply; a replay yields none new; later order states
suppress stale notifications."""

from __future__ import annotations

import pytest

from schemas.codec import REGISTRY
from streams.catalog import CHANNELS, channel_topic
from streams.sample import sample_events
from streams.settings import ROOT
from tests.integration.expect import expected_requests, publish_events
from tests.support import read_all, wait_for

pytestmark = pytest.mark.broker
KEYS = ("notification_id", "template", "category", "priority", "channel", "recipient_id",
        "role", "address", "locale", "variables", "fallback")


def _stable(events):
    """Sample traffic without the events that make earlier ones stale: across
    topics the worker may see them in any order, and they are tested below."""
    return [(t, d) for t, d in events
            if t != "refund" and not (t == "order_exception" and d["kind"] == "CANCELLED")]


def routed(prefix: str) -> list[dict]:
    out = []
    for ch in CHANNELS:
        for msg in read_all(f"{prefix}{channel_topic(ch)}"):
            r = REGISTRY.decode(msg.value(), expect="notification_request")
            out.append({k: r[k] for k in KEYS})
    return out


def test_seeded_run_routes_exactly_the_expected_requests_once(prefix, worker_factory):
    events = _stable(sample_events(80, seed=31))
    expected = {nid: {k: r[k] for k in KEYS} for nid, r in expected_requests(events).items()}
    assert {r["channel"] for r in expected.values()} >= {"email", "sms", "inapp"}
    worker = worker_factory(ORDERCAST_MERCHANTS_FILE=str(ROOT / "deploy/merchants.example.json"))
    publish_events(prefix, events)
    wait_for(lambda: len(routed(prefix)) >= len(expected), 90, message="all requests routed")
    got = routed(prefix)
    assert len(got) == len(expected)
    assert {r["notification_id"]: r for r in got} == expected

    publish_events(prefix, events)  # the same events again: a replay
    wait_for(lambda: worker.metric("ordercast_dedup_hits_total", stage="routing") == len(events),
             90, message="the replay to be recognised")
    assert len(routed(prefix)) == len(expected)


def test_later_state_suppresses_stale_notifications(prefix, worker_factory):
    events = sample_events(60, seed=32)
    order = next(d["envelope"]["order_id"] for t, d in events if t == "card_key_ready")
    journey = {t: d for t, d in events if d["envelope"]["order_id"] == order}
    refund = {"envelope": {**journey["card_key_ready"]["envelope"], "event_id": "refund-first"},
              "stage": "COMPLETED", "refund_minor": 100, "reason": "duplicate order"}
    worker = worker_factory()
    publish_events(prefix, [("refund", refund)])
    wait_for(lambda: worker.metric("ordercast_events_consumed_total", event_type="refund") == 1,
             60, message="the refund to be processed")
    publish_events(prefix, [("card_key_ready", journey["card_key_ready"])])
    wait_for(lambda: worker.metric("ordercast_notifications_suppressed_total",
                                   template="card_key_ready") > 0, 60,
             message="the card key notifications to be suppressed")
    templates = {r["template"] for r in routed(prefix)}
    assert "refund_completed" in templates
    assert "card_key_ready" not in templates
