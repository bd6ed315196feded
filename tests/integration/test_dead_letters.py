"""Permanent failures: an unverified sender and an invalid phone number go
straight to the dead-letter topics with the right headers, urgent notifications
fall back once, and a replay after fixing the sender delivers exactly once."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from streams.aws import client
from streams.catalog import channel_topic, dead_letter_topic
from streams.deadletter import read_headers
from streams.dlq import parse_filters, replay
from streams.merchants import load_merchants
from streams.sample import sample_events
from tests.integration.expect import (
    emails_by_notification,
    expected_requests,
    publish_events,
    tagged,
)
from tests.support import MOTO_URL, consume, wait_for

pytestmark = pytest.mark.broker


def _merchants_file(tmp_path, sender: str):
    data = {"merchants": [{"merchant_id": "m-bad", "name": "Unverified Shop",
                           "default_locale": "en-US", "sender_email": sender}]}
    path = tmp_path / "merchants.json"
    path.write_text(json.dumps(data))
    return path


def _paid_order(tag: str, merchant: str, phone: str):
    events = tagged(sample_events(40, seed=51), tag)
    order = next(d["envelope"]["order_id"] for t, d in events if t == "payment_succeeded")
    out = []
    for t, d in events:
        if d["envelope"]["order_id"] == order and t in ("order_created", "payment_succeeded"):
            d = copy.deepcopy(d)
            d["envelope"]["merchant_id"] = merchant
            d["envelope"]["buyer"].update(phone=phone, email=f"{tag}@example.com",
                                          locale="en-US")
            out.append((t, d))
    return out


def test_permanent_failures_dead_letter_fall_back_and_replay_once(prefix, worker_factory,
                                                                 tmp_path):
    tag = uuid.uuid4().hex[:8]
    sender = f"noreply@unverified-{tag}.example"
    merchants_path = _merchants_file(tmp_path, sender)
    events = _paid_order(tag, "m-bad", phone="+8612345")  # not a valid number
    expected = expected_requests(events, load_merchants(merchants_path))
    email = next(r for r in expected.values() if r["channel"] == "email")
    sms = next(r for r in expected.values() if r["channel"] == "sms")
    assert email["priority"] == "urgent" and email["fallback"] and sms["fallback"]

    worker = worker_factory(ORDERCAST_MERCHANTS_FILE=str(merchants_path))
    publish_events(prefix, events)

    letters = {}
    for ch, cls in (("email", "RejectedSender"), ("sms", "InvalidAddress")):
        msgs = consume(f"{prefix}{dead_letter_topic(ch)}", 1, timeout=60)
        headers = read_headers(msgs[0].headers())
        assert headers["error-class"] == cls
        assert headers["original-topic"] == f"{prefix}{channel_topic(ch)}"
        assert headers["attempts"] == "1"  # permanent: no retries first
        assert headers["channel"] == ch
        assert int(headers["original-offset"]) >= 0
        assert int(headers["first-failure-at"]) <= int(headers["last-failure-at"])
        assert f"{tag}@example.com" not in headers["error-message"]  # buyer address masked
        assert "+8612345" not in headers["error-message"]
        letters[ch] = headers
    assert letters["email"]["notification-id"] == email["notification_id"]
    assert letters["sms"]["notification-id"] == sms["notification_id"]
    wait_for(lambda: worker.metric("ordercast_fallbacks_total", from_channel="sms",
                                   to_channel="email") == 1
             and worker.metric("ordercast_fallbacks_total", from_channel="email",
                               to_channel="sms") == 1, 30, message="one fallback each way")
    assert worker.metric("ordercast_retries_total") == 0
    assert emails_by_notification([email["notification_id"]]) == {}

    client("sesv2", MOTO_URL).create_email_identity(EmailIdentity=sender)  # the fix
    report = replay(parse_filters(channels=["email"]), dry_run=False, prefix=prefix)
    assert report.replayed  # at least the original email letter
    got = wait_for(lambda: emails_by_notification([email["notification_id"]]), 60,
                   message="the replayed email in moto")
    assert len(got[email["notification_id"]]) == 1
    again = replay(parse_filters(channels=["email"]), dry_run=False, prefix=prefix)
    assert not again.replayed
    wait_for(lambda: worker.metric("ordercast_deliveries_total", channel="email",
                                   status="delivered") >= 1, 30, message="delivery counted")
    assert len(emails_by_notification([email["notification_id"]])[email["notification_id"]]) == 1
