"""Poison messages interleaved with good traffic never stop a worker.

Undecodable lifecycle messages (garbage bytes, a valid record of another type,
truncated Avro, ~900 KB payloads) are each dead-lettered once on the events
dead-letter topic with the reason, found by their original offset; requests
with invalid addresses on the channel topics are dead-lettered on their
channel's topic as InvalidAddress; events whose every string field carries
HTML are delivered with the HTML escaped; all good traffic is delivered.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest

from schemas.codec import HEADER_LEN, MARKER, REGISTRY
from streams.catalog import EVENTS_DLT, LIFECYCLE, channel_topic, full_name
from streams.deadletter import read_headers
from streams.publish import prepare
from tests.chaos import FULL
from tests.chaos.kafka import RawProducer, read_all
from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.chaos.traffic import steady_traffic, with_html
from tests.integration.expect import emails_by_notification, expected_requests
from tests.support import wait_for

pytestmark = pytest.mark.broker

POISON = 10_000 if FULL else 2_000  # every kind below, together
HUGE = 20 if FULL else 6
HUGE_BYTES = 900 * 1024  # under the broker's 1 MB message limit
HTML_EVENTS = 300 if FULL else 60
INVALID_ADDRESSES = POISON // 10
GOOD_EVENTS = 600 if FULL else 200

# what each kind of undecodable lifecycle message must be dead-lettered as
REASONS = {"garbage": {"NotSingleObject"}, "wrong-schema": {"UnexpectedSchema"},
           "truncated": {"MalformedBody"}, "huge": {"NotSingleObject", "MalformedBody"}}
BAD_EMAILS = ("not-an-address", "a@b", "two@@example.com", "<script>@example.com",
              "buyer@example.com\r\nBcc: x@example.com", "")
BAD_PHONES = ("+8612345", "12", "not-a-phone", "+1 555", "<script>alert(1)</script>", "")


def _lifecycle_poison(rng: random.Random, kind: str, spare: list[tuple[str, dict]],
                      n: int) -> tuple[str, bytes]:
    """(catalog topic, value) of one undecodable lifecycle message."""
    topics = [s.name for s in LIFECYCLE]
    event_type, data = rng.choice(spare)
    valid = REGISTRY.encode(event_type, data)
    own = prepare(event_type, data).topic
    if kind == "garbage":
        junk = rng.randbytes(rng.randint(1, 300))
        return rng.choice(topics), (b"\x00" + junk if junk.startswith(MARKER[:1]) else junk)
    if kind == "wrong-schema":
        return rng.choice([t for t in topics if t != own]), valid
    if kind == "truncated":
        return own, valid[:rng.randint(HEADER_LEN + 1, len(valid) - 1)]
    # huge: junk without the marker, junk behind a real header, or a valid
    # event with junk after it (two records run together, say)
    shape = n % 3
    if shape == 0:
        return own, bytes(rng.getrandbits(8) | 0x80 for _ in range(64)) * (HUGE_BYTES // 64)
    if shape == 1:
        return own, valid[:HEADER_LEN] + b"\xff" * HUGE_BYTES
    return own, valid + b"\x00" * (HUGE_BYTES - len(valid))


def _invalid_address_requests(rng: random.Random, n: int) -> dict[str, dict]:
    """Notification requests as the router would write them, with addresses no
    provider accepts; nothing falls back, so each must end in its channel's DLT."""
    pool = [r for r in expected_requests(steady_traffic(80, seed=97)).values()
            if r["channel"] in ("email", "sms")]
    out = {}
    for _ in range(n):
        request = dict(rng.choice(pool))
        bad = BAD_EMAILS if request["channel"] == "email" else BAD_PHONES
        request.update(notification_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                       address=rng.choice(bad), fallback=[], fallback_of=None)
        out[request["notification_id"]] = request
    return out


@pytest.mark.timeout(900 if FULL else 300)
def test_poison_never_stops_the_worker(prefix, broker, worker_factory):
    rng = random.Random(4242)
    good = steady_traffic(GOOD_EVENTS, seed=91)
    html = [(t, with_html(t, d)) for t, d in steady_traffic(HTML_EVENTS, seed=92)]
    invalid = _invalid_address_requests(rng, INVALID_ADDRESSES)
    spare = steady_traffic(100, seed=93)  # raw material for undecodable copies
    each = (POISON - len(html) - len(invalid) - HUGE) // 3
    kinds = ["garbage"] * each + ["wrong-schema"] * each + ["truncated"] * each + ["huge"] * HUGE
    assert len(kinds) + len(html) + len(invalid) >= POISON - 2

    items: list[tuple[str, str, bytes | None, bytes]] = []
    for label, events in (("good", good), ("html", html)):
        for p in (prepare(t, d) for t, d in events):
            items.append((label, full_name(p.topic, prefix), p.key, p.value))
    for i, kind in enumerate(kinds):
        topic, value = _lifecycle_poison(rng, kind, spare, i)
        items.append((kind, full_name(topic, prefix), f"poison-{i}".encode(), value))
    for request in invalid.values():
        items.append(("invalid-address", full_name(channel_topic(request["channel"]), prefix),
                      (request["order_id"] or request["recipient_id"]).encode(),
                      REGISTRY.encode("notification_request", request)))
    # steady traffic routes the same whatever order its events arrive in
    rng.shuffle(items)

    ledger = Ledger({**expected_requests(good), **expected_requests(html), **invalid},
                    prefix, broker)
    worker = worker_factory(ORDERCAST_AWS_SES_MAX_SEND_RATE="200",
                            ORDERCAST_AWS_SMS_MAX_SEND_RATE="200")
    producer = RawProducer(broker)
    for label, topic, key, value in items:
        producer.send(topic, key, value, label)
    producer.flush(120)

    verdict = check_delivered_once_or_dead_lettered(
        ledger, ambiguous=ambiguous_resends(worker), timeout=240 if FULL else 120,
        reasons={"InvalidAddress"})
    print(f"poison run: {verdict}")
    assert set(verdict.letters) == set(invalid)

    poison = {pos: kind for kind in REASONS for pos in producer.positions.get(kind, [])}
    assert len(poison) == len(kinds)
    dlt = f"{prefix}{EVENTS_DLT}"

    def letters():
        out: dict[tuple[str, int, int], list[dict]] = {}
        for msg in read_all(dlt, broker, timeout=60):
            h = read_headers(msg.headers())
            pos = (h["original-topic"], int(h["original-partition"]), int(h["original-offset"]))
            out.setdefault(pos, []).append(h)
        return out

    found = wait_for(lambda: (got := letters()) and set(poison) <= set(got) and got,
                     120, 2.0, "every poison lifecycle message on the events DLT")
    wrong = Counter()
    for pos, kind in poison.items():
        (h,) = found[pos]  # exactly one dead letter per poison message
        if h["error-class"] not in REASONS[kind] or not h["error-message"]:
            wrong[(kind, h["error-class"])] += 1
        assert h["channel"] == "ingest"
    assert not wrong, f"poison dead-lettered for the wrong reason: {dict(wrong)}"
    assert set(found) == set(poison), "a good event was dead-lettered"
    assert worker.metric("ordercast_dead_letters_total", channel="ingest") == len(poison)

    html_emails = {n for n, r in expected_requests(html).items() if r["channel"] == "email"}
    for nid, (mail,) in emails_by_notification(html_emails).items():
        assert "<script>" not in mail["body"], f"unescaped HTML in the email of {nid}"
        assert "&lt;script&gt;" in mail["body"]
        assert "\n" not in mail["subject"]
    assert worker.proc.poll() is None, "the worker died"
    log = worker.log.read_text(errors="replace")
    assert "Crashed" not in log, "an agent crashed:\n" + log[log.find("Crashed") - 2000:][:4000]
