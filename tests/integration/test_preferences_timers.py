"""Preferences from the compacted topic change what is routed; timed triggers
survive a worker restart."""

from __future__ import annotations

import copy
import time
import uuid

import pytest

from schemas.codec import REGISTRY
from streams.catalog import CHANNELS, channel_topic
from streams.sample import sample_events
from tests.integration.expect import emails_by_notification, publish_events, tagged
from tests.support import read_all, wait_for

pytestmark = pytest.mark.broker


def _requests(prefix: str, buyer: str) -> list[dict]:
    out = []
    for ch in CHANNELS:
        for msg in read_all(f"{prefix}{channel_topic(ch)}"):
            r = REGISTRY.decode(msg.value())
            if r["recipient_id"] == buyer:
                out.append(r)
    return out


def _journey(tag: str, types: tuple[str, ...]):
    events = tagged(sample_events(60, seed=61), tag)
    order = next(d["envelope"]["order_id"] for t, d in events if t == "card_key_ready")
    out = [(t, copy.deepcopy(d)) for t, d in events
           if d["envelope"]["order_id"] == order and t in types]
    buyer = f"b-{tag}"
    for _, d in out:
        d["envelope"]["buyer"].update(buyer_id=buyer, email=f"{tag}@example.com",
                                      phone="+8613800138000")
    return buyer, out


def test_opt_outs_apply_but_card_keys_always_arrive(prefix, worker_factory):
    tag = uuid.uuid4().hex[:8]
    buyer, events = _journey(tag, ("payment_succeeded", "card_key_ready"))
    worker = worker_factory()
    prefs = {"recipient_id": buyer, "locale": "en-US", "timezone": "UTC",
             "opted_out_categories": [], "opted_out_channels": ["sms", "email", "inapp"],
             "quiet_hours": None, "vip_tier": 0, "updated_at": int(time.time() * 1000)}
    publish_events(prefix, [("preferences", prefs)])
    wait_for(lambda: worker.metric("ordercast_preferences_updates_total") == 1, 30,
             message="preferences materialised")
    publish_events(prefix, events)
    wait_for(lambda: worker.metric("ordercast_events_consumed_total") == len(events)
             and worker.metric("ordercast_notifications_routed_total") >= 1, 30,
             message="events routed")
    routed = wait_for(lambda: _requests(prefix, buyer), 30, message="requests for the buyer")
    by_template = {(r["template"], r["channel"]) for r in routed}
    # every channel opted out: payment receipt goes nowhere, the card key still by email
    assert by_template == {("card_key_ready", "email")}
    assert routed[0]["locale"] == "en-US"


def test_payment_reminder_survives_a_restart(prefix, worker_factory):
    tag = uuid.uuid4().hex[:8]
    buyer, events = _journey(tag, ("order_created",))
    created = events[0][1]
    created["envelope"]["occurred_at"] = int(time.time() * 1000)
    created["pay_by"] = created["envelope"]["occurred_at"] + 3_600_000
    env = {"ORDERCAST_PAYMENT_REMINDER_MIN": "0.25"}  # due 15 s after the order
    worker = worker_factory(**env)
    publish_events(prefix, events)
    wait_for(lambda: worker.metric("ordercast_timers_pending") == 1, 30,
             message="the reminder armed")
    assert worker.metric("ordercast_notifications_routed_total") == 0
    worker.kill()
    restarted = worker_factory(**env)
    # one request per channel, sent one after another: wait for the email one
    routed = wait_for(lambda: [r for r in _requests(prefix, buyer)
                               if r["template"] == "payment_reminder"
                               and r["channel"] == "email"], 60,
                      message="the reminder email request after the restart")
    emails = [r["notification_id"] for r in routed]
    got = wait_for(lambda: emails_by_notification(emails), 30, message="reminder email")
    assert all(len(v) == 1 for v in got.values())
    wait_for(lambda: restarted.metric("ordercast_timers_pending") == 0, 10,
             message="the fired reminder removed from the timer table")
