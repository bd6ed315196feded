"""A worker SIGKILLed mid-run while a second worker of the same group keeps
going: the survivor takes over its partitions (tables restored from their
changelogs), the killed one is restarted, and every notification is delivered
exactly once or dead-lettered; only sends in flight at the kill may repeat."""

from __future__ import annotations

import uuid

import pytest

from streams.sample import sample_events
from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.integration.expect import expected_requests, publish_events, tagged
from tests.support import wait_for

pytestmark = pytest.mark.broker

EVENTS = 300  # about 550 notifications on email, SMS and in-app
# SES slowed down so that the kill lands while email sends are in flight
ENV = {"ORDERCAST_AWS_SES_MAX_SEND_RATE": "30"}


def _emails_delivered(*workers) -> float:
    return sum(w.metric("ordercast_deliveries_total", channel="email", status="delivered")
               for w in workers)


def test_sigkill_one_of_two_workers_loses_nothing(prefix, broker, worker_factory):
    events = tagged(sample_events(EVENTS, seed=61), uuid.uuid4().hex[:8])
    ledger = Ledger(expected_requests(events), prefix, broker)
    emails = len(ledger.by_channel("email"))
    victim, survivor = worker_factory(**ENV), worker_factory(**ENV)
    publish_events(prefix, events)

    wait_for(lambda: _emails_delivered(victim) >= 10 and _emails_delivered(survivor) >= 10,
             90, message="both workers sending email")
    assert _emails_delivered(victim, survivor) < emails  # the kill lands mid-run
    victim.kill()
    victim.start()  # as a supervisor would: same configuration, same group

    try:
        verdict = check_delivered_once_or_dead_lettered(
            ledger, ambiguous=ambiguous_resends(victim, survivor), timeout=150,
            dead_letters_allowed=False)
    except AssertionError:
        import sys; sys.path.insert(0, "/tmp/chaosdbg"); import diag  # noqa
        print(diag.diagnose(ledger, (victim, survivor)))
        import shutil; shutil.copytree(victim.log.parent, "/tmp/chaosdbg/logs", dirs_exist_ok=True)  # noqa
        raise
    print(f"after SIGKILL: {verdict}")
    for w in (victim, survivor):
        assert w.proc.poll() is None
        assert "Crashed" not in w.log.read_text(errors="replace")
