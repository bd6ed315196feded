"""Secrets scan after a real run: card keys, raw buyer contacts and the link
signing secret stay where they belong.

The shop's card-key store is modelled here as a dict ref -> key; the events
carry only the ref, as the contract says. After a run that also goes through
failures (an invalid phone number, an unverifiable card-testing burst that
raises a risk alert, tampered and reused card-key links), everything the run
left behind is scanned:

- every Kafka message (key, value and headers) on the test's topics and on
  the worker's table changelogs (`ordercast-<prefix>-*`);
- every email and SMS moto accepted for the test's buyers and operators;
- the worker's log file and its /metrics text.

The card key and the link secret must appear nowhere. Raw buyer emails and
phone numbers may appear in Kafka values and in the mail itself (that is
where they are needed), but in no log line, no metric and no message header
(dead-letter headers included).
"""

from __future__ import annotations

import copy
import http.client
import re
import secrets
import uuid

import pytest

from tests.chaos.kafka import read_all, topics_with_prefix
from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.chaos.traffic import steady_traffic
from tests.conftest import app_id
from tests.integration.expect import expected_requests, moto_data, publish_events
from tests.support import wait_for

pytestmark = pytest.mark.broker

CARD_KEY = "CK-PLANT-7f3a-9b1c-SECRET"
RISK_BURST = 6  # failed payments from one buyer: over the 5-in-10-minutes rule


def _traffic(tag: str) -> tuple[list, dict[str, str], set[str], set[str], str]:
    """Tagged traffic with planted contacts; returns (events, card-key store,
    planted emails, planted phones, the invalid phone)."""
    events = steady_traffic(120, seed=111, tag=tag)
    digits = uuid.uuid4().int % 10**6
    contacts: dict[str, tuple[str, str]] = {}
    store: dict[str, str] = {}
    for n, (event_type, data) in enumerate(events):
        buyer = data["envelope"]["buyer"]
        email, phone = contacts.setdefault(buyer["buyer_id"], (
            f"plant.{tag}.{len(contacts)}@example.com",
            f"+86139{digits:06d}{len(contacts) % 100:02d}"))
        buyer.update(email=email, phone=phone)
        if event_type == "card_key_ready":  # the shop's store holds the key; the event the ref
            data["card_key_ref"] = f"ref-{tag}-{n}"
            store[data["card_key_ref"]] = f"{CARD_KEY}-{n:04d}"
    paid = next(d for t, d in events if t == "payment_succeeded")
    invalid_phone = f"+8612{digits % 10**4:04d}"  # too short to be a number anywhere
    for _, data in events:
        if data["envelope"]["order_id"] == paid["envelope"]["order_id"]:
            data["envelope"]["buyer"]["phone"] = invalid_phone
    failed = next(d for t, d in events if t == "payment_failed")
    for i in range(RISK_BURST):  # card testing: one buyer, one IP, many orders
        burst = copy.deepcopy(failed)
        burst["envelope"].update(event_id=f"{tag}-burst-{i}", order_id=f"{tag}burst{i:02d}")
        events.append(("payment_failed", burst))
    emails = {e for e, _ in contacts.values()}
    phones = {p for _, p in contacts.values()} | {invalid_phone}
    return events, store, emails, phones, invalid_phone


def _redeem(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


def _found(haystack: str | bytes, needles: dict[str, str]) -> list[str]:
    if isinstance(haystack, bytes):
        return [name for name, n in needles.items() if n.encode() in haystack]
    return [name for name, n in needles.items() if n in haystack]


def test_secrets_and_contacts_stay_where_they_belong(prefix, broker, worker_factory):
    tag = uuid.uuid4().hex[:8]
    link_secret = f"link-secret-{secrets.token_hex(16)}"
    events, store, emails, phones, invalid_phone = _traffic(tag)
    expected = expected_requests(events)
    ledger = Ledger(expected, prefix, broker)
    worker = worker_factory(ORDERCAST_LINK_SECRET=link_secret,
                            ORDERCAST_AWS_SES_MAX_SEND_RATE="100")
    publish_events(prefix, events)

    verdict = check_delivered_once_or_dead_lettered(
        ledger, ambiguous=ambiguous_resends(worker), timeout=120, reasons={"InvalidAddress"})
    assert set(verdict.reasons) == {"InvalidAddress"}  # the SMS to the invalid phone
    wait_for(lambda: worker.metric("ordercast_risk_alerts_total") >= 1
             and worker.metric("ordercast_fallbacks_total") >= 1, 60,
             message="the risk alert and the SMS -> email fallback")

    # card-key links: one redeemed, then reused, then tampered with
    card_emails = {n for n, r in expected.items()
                   if r["template"] == "card_key_ready" and r["channel"] == "email"}
    data = moto_data()
    body = next(m["body"] for m in data["ses"]["Message"]
                if m.get("body", "").rpartition("ordercast-notification:")[2][:36]
                in card_emails)
    token = re.search(r"/k/([A-Za-z0-9_.\-]+)", body).group(1)
    status, location = _redeem(worker.port, f"/k/{token}")
    assert status == 303 and "ref-" in location and CARD_KEY not in location
    assert _redeem(worker.port, f"/k/{token}")[0] >= 400  # works once
    assert _redeem(worker.port, f"/k/{token[:-4]}AAAA")[0] >= 400  # tampered

    secrets_ = {"card key": CARD_KEY, "link secret": link_secret}
    contacts = {f"contact {c}": c for c in sorted(emails | phones)}
    leaks: list[str] = []
    scanned = 0
    names = topics_with_prefix(broker, [prefix, f"{app_id(prefix)}-"])
    assert any(t.endswith("-sends-changelog") for t in names)
    for topic in names:
        for msg in read_all(topic, broker, timeout=60):
            scanned += 1
            for part, raw in (("key", msg.key()), ("value", msg.value())):
                leaks += [f"{what} in {topic} {part}" for what in _found(raw or b"", secrets_)]
            for header, raw in msg.headers() or []:
                leaks += [f"{what} in {topic} header {header}"
                          for what in _found(raw or b"", {**secrets_, **contacts})]

    ours = emails | phones | {"ops@", "risk@", "fraud@"}
    mail = [m for m in moto_data()["ses"]["Message"]
            if any(a in " ".join(m["destinations"].get("ToAddresses", [])) for a in ours)
            and tag in m.get("subject", "") + m.get("body", "")]
    sms = [m for m in moto_data()["sns"]["SMS"] if m["phone_number"] in phones]
    assert len(mail) >= len(card_emails) and sms
    for m in mail:
        leaks += [f"{what} in the email '{m['subject']}'"
                  for what in _found(m["subject"] + m["body"], secrets_)]
    for m in sms:
        leaks += [f"{what} in an SMS" for what in _found(m["message"], secrets_)]

    log = worker.log.read_text(errors="replace")
    for number, line in enumerate(log.splitlines(), start=1):
        leaks += [f"{what} in log line {number}: {line[:200]}"
                  for what in _found(line, {**secrets_, **contacts})]
    leaks += [f"{what} in /metrics" for what in _found(worker.metrics(),
                                                         {**secrets_, **contacts})]
    assert worker.metric("ordercast_dead_letters_total", channel="sms") >= 1
    assert store and all(k.startswith(CARD_KEY) for k in store.values())
    print(f"scanned {scanned} Kafka messages on {len(names)} topics, {len(mail)} emails, "
          f"{len(sms)} SMS, {len(log.splitlines())} log lines")
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:30])
