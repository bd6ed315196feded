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
# SES and SMS slowed down so that the kill lands while sends are in flight
ENV = {"ORDERCAST_AWS_SES_MAX_SEND_RATE": "20", "ORDERCAST_AWS_SMS_MAX_SEND_RATE": "15"}


def _sent(worker) -> float:
    return worker.metric("ordercast_deliveries_total", status="delivered")


def test_sigkill_one_of_two_workers_loses_nothing(prefix, broker, worker_factory):
    events = steady_traffic(EVENTS, seed=61)
    ledger = Ledger(expected_requests(events), prefix, broker)
    import os as _os; from tests.support import ROOT as _R  # noqa
    dbg = {"PYTHONPATH": f"{_R}:/tmp/chaosdbg/site"}
    workers = [worker_factory(**ENV, **dbg), worker_factory(**ENV, **dbg)]
    publish_events(prefix, events)

    wait_for(lambda: sum(_sent(w) for w in workers) >= len(ledger.expected) // 5, 90,
             message="a fifth of the notifications delivered")
    victim = max(workers, key=_sent)  # the one with sends in flight for sure
    victim.kill()
    before = ledger.observe()
    assert sum(1 for n in ledger.expected if before.accounted(n)) < len(ledger.expected)
    victim.start()  # as a supervisor would: same configuration, same group

    import time; print("KILL at", time.time())  # noqa
    try:
        verdict = check_delivered_once_or_dead_lettered(
            ledger, ambiguous=ambiguous_resends(*workers), timeout=150,
            dead_letters_allowed=False)
    except AssertionError:
        import sys; sys.path.insert(0, "/tmp/chaosdbg"); import diag  # noqa
        print(diag.diagnose(ledger, workers))
        print(diag.dupes(ledger, workers))
        print(diag.offsets(ledger, workers))
        import signal as _s, time as _t  # noqa
        for w in workers: _os.kill(w.proc.pid, _s.SIGUSR1)  # noqa
        _t.sleep(3)
        print("PIDS", [w.proc.pid for w in workers])
        seen = ledger.observe()
        d = [n for n, c in seen.copies.items() if c > 1]
        print(diag.history(ledger, set(d)))
        import shutil; shutil.copytree(victim.log.parent, "/tmp/chaosdbg/logs", dirs_exist_ok=True)  # noqa
        raise
    print(f"after SIGKILL: {verdict}")
    for w in workers:
        assert w.proc.poll() is None
        assert "Crashed" not in w.log.read_text(errors="replace")
