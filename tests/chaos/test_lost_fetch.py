"""Records read by faust's fetch loop but lost before any agent saw them: the
position at the log end, the committed offset behind, nothing delivered. The
commit guard must hold the commit at the lost record (faust alone commits past
a single one, or past any before its first commit) and the stall watchdog must
notice the commit that does not move and fetch it again; every email is then
delivered, each once."""

from __future__ import annotations

import uuid

import pytest

from streams.chaos import ENV
from streams.sample import sample_events
from tests.integration.expect import (
    emails_by_notification,
    expected_requests,
    publish_events,
    tagged,
)
from tests.support import wait_for

pytestmark = pytest.mark.broker

# the partition's first record, alone: the case faust would commit past
FIRST, LOST = 0, 1


def test_records_lost_after_the_fetch_are_fetched_again(prefix, worker_factory):
    events = tagged(sample_events(120, seed=71), uuid.uuid4().hex[:6])
    events = [(t, d) for t, d in events if t in ("order_created", "payment_succeeded")]
    emails = {nid: r for nid, r in expected_requests(events).items() if r["channel"] == "email"}
    assert len(emails) > 4 * (FIRST + LOST)  # partition 0 gets some after the lost ones
    worker = worker_factory(**{ENV: f"ordercast.notify.email[0]:{FIRST}:{LOST}"})
    publish_events(prefix, events)

    # the lost ones wait for the watchdog: 20 s with nothing consumed, on 5 s ticks
    wait_for(lambda: len(emails_by_notification(emails)) == len(emails), 120, interval=1.0,
             message="every email delivered, the lost ones after a refetch")
    assert worker.metric("ordercast_consumer_stalls_total", action="rewind") >= 1
    copies = emails_by_notification(emails)
    assert all(len(v) == 1 for v in copies.values()), "a refetch must not send twice"
    assert "chaos: dropped" in worker.log.read_text(errors="replace")
