"""Delivery on the real broker and moto: emails and SMS arrive; a provider
outage delays but loses nothing; a SIGKILL resends only what was in flight."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from streams.catalog import dead_letter_topic
from streams.sample import sample_events
from tests.integration.expect import (
    FaultProxy,
    emails_by_notification,
    expected_requests,
    publish_events,
    sms_to,
    tagged,
)
from tests.support import read_all, wait_for

pytestmark = pytest.mark.broker


def _paid(seed: int, n: int):
    tag = uuid.uuid4().hex[:6]
    events = tagged(sample_events(n, seed=seed), tag)
    return [(t, d) for t, d in events if t in ("order_created", "payment_succeeded")]


def _by_channel(requests, channel: str):
    return {nid: r for nid, r in requests.items() if r["channel"] == channel}


def test_payment_success_reaches_moto_by_email_and_sms(prefix, worker_factory):
    events = _paid(41, 60)
    expected = expected_requests(events)
    emails = {n: r for n, r in _by_channel(expected, "email").items() if r["role"] == "buyer"}
    sms = _by_channel(expected, "sms")
    assert emails and sms
    worker_factory()
    publish_events(prefix, events)
    got = wait_for(lambda: (e := emails_by_notification(emails)) and len(e) == len(emails) and e,
                   90, message="every buyer email in moto")
    for nid, request in emails.items():
        (mail,) = got[nid]
        order_no = request["variables"]["order_no"]
        assert mail["destinations"]["ToAddresses"] == [request["address"]]
        assert order_no in mail["subject"]
        zh = bool(re.search(r"[\u4e00-\u9fff]", mail["subject"] + mail["body"][:2000]))
        assert request["locale"] == "zh-CN" or "lang=\"en" in mail["body"]
        assert zh if request["locale"] == "zh-CN" else True
    phones = {r["address"] for r in sms.values()}
    texts = wait_for(lambda: (m := sms_to(phones)) and len(
        [x for x in m if any(r["variables"]["order_no"] in x["message"] for r in sms.values())]
    ) >= len(sms) and m, 60, message="every SMS in moto")
    for request in sms.values():
        assert any(request["variables"]["order_no"] in t["message"]
                   and t["phone_number"] == request["address"] for t in texts)


def test_throttling_outage_delays_but_loses_nothing(prefix, worker_factory):
    proxy = FaultProxy()
    try:
        events = _paid(42, 80)
        expected = expected_requests(events)
        emails = _by_channel(expected, "email")
        worker = worker_factory(ORDERCAST_AWS_ENDPOINT_URL=proxy.url)
        proxy.fault("throttle", 1.0, 10, match="ses")
        started = time.monotonic()
        publish_events(prefix, events)
        # during the SES outage the other channels keep flowing
        wait_for(lambda: worker.metric("ordercast_deliveries_total", channel="sms",
                                       status="delivered") > 0, 10, message="SMS during outage")
        assert time.monotonic() - started < 10
        assert worker.metric("ordercast_deliveries_total", channel="email",
                             status="delivered") == 0
        assert proxy.stats()["ses"].get("throttle", 0) > 0
        got = wait_for(lambda: len(emails_by_notification(emails)) == len(emails) and True, 120,
                       message="every email delivered after the outage")
        assert got
        assert all(len(v) == 1 for v in emails_by_notification(emails).values())
        assert worker.metric("ordercast_dead_letters_total") == 0
        assert worker.metric("ordercast_retries_total", channel="email") > 0
        assert read_all(f"{prefix}{dead_letter_topic('email')}") == []
    finally:
        proxy.close()


def test_sigkill_resends_only_what_was_in_flight(prefix, worker_factory):
    events = _paid(43, 400)
    expected = expected_requests(events)
    emails = _by_channel(expected, "email")
    worker = worker_factory(ORDERCAST_AWS_SES_MAX_SEND_RATE="40")
    publish_events(prefix, events)
    wait_for(lambda: worker.metric("ordercast_deliveries_total", channel="email",
                                   status="delivered") >= len(emails) // 4, 90,
             message="a quarter of the emails sent")
    worker.kill()
    restarted = worker_factory(ORDERCAST_AWS_SES_MAX_SEND_RATE="400")
    wait_for(lambda: len(emails_by_notification(emails)) == len(emails), 120,
             message="every email delivered after the restart")
    copies = emails_by_notification(emails)
    duplicates = sum(len(v) - 1 for v in copies.values())
    ambiguous = restarted.metric("ordercast_ambiguous_resends_total", channel="email")
    assert duplicates <= ambiguous
