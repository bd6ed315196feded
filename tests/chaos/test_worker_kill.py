"""A worker SIGKILLed mid-run while a second worker of the same group keeps
going: the survivor takes over its partitions (tables restored from their
changelogs), the killed one is restarted, and every notification is delivered
exactly once or dead-lettered; only sends in flight at the kill may repeat."""

from __future__ import annotations

import pytest

from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.chaos.traffic import steady_traffic
from tests.integration.expect import expected_requests, publish_events
from tests.support import wait_for

pytestmark = pytest.mark.broker

EVENTS = 300  # about 520 notifications on email, SMS and in-app
# providers slowed down so that the kill lands while sends are in flight
ENV = {"ORDERCAST_AWS_SES_MAX_SEND_RATE": "20", "ORDERCAST_AWS_SMS_MAX_SEND_RATE": "15"}


def _sent(worker) -> float:
    return worker.metric("ordercast_deliveries_total", status="delivered")


def test_sigkill_one_of_two_workers_loses_nothing(prefix, broker, worker_factory):
    events = steady_traffic(EVENTS, seed=61)
    ledger = Ledger(expected_requests(events), prefix, broker)
    workers = [worker_factory(**ENV), worker_factory(**ENV)]
    publish_events(prefix, events)

    wait_for(lambda: sum(_sent(w) for w in workers) >= len(ledger.expected) // 5, 90,
             message="a fifth of the notifications delivered")
    victim = max(workers, key=_sent)  # the busier one: it has sends in flight
    victim.kill()
    seen = ledger.observe()
    assert sum(1 for n in ledger.expected if seen.accounted(n)) < len(ledger.expected), \
        "the run was over before the kill"
    victim.start()  # as a supervisor would: same configuration, same group

    verdict = check_delivered_once_or_dead_lettered(
        ledger, ambiguous=ambiguous_resends(*workers), timeout=150,
        dead_letters_allowed=False)
    print(f"after SIGKILL: {verdict}")
    for w in workers:
        assert w.proc.poll() is None
        assert "Crashed" not in w.log.read_text(errors="replace")
