"""SES failing behind the fault proxy while other channels keep flowing.

Retry delays are set per test so that the outcome of every notification is
decided by the clock, not by luck:

- Outage (every SES call a 503 for OUTAGE_S): the retry chain is short
  (RETRY_DELAYS_S sums to 3 s). A first batch, sent when the outage starts,
  runs out of retries well inside the outage: every one of its emails is
  dead-lettered after the last retry, with reason ProviderUnavailable. A second
  batch, sent 2 s before the outage ends, cannot run out of retries before it
  ends (3 s > 2 s): every one of its emails is delivered, once.
- Throttling (every other SES call refused for THROTTLE_S): the last retry
  delay is longer than the whole window, so any email first tried inside the
  window gets a final attempt after it: everything is delivered, nothing is
  dead-lettered, however the refusals fall.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.chaos import FULL
from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.chaos.traffic import steady_traffic
from tests.integration.expect import expected_requests, publish_events
from tests.support import wait_for

pytestmark = pytest.mark.broker

OUTAGE_S = 30 if FULL else 15
RETRY_DELAYS_S = (0.5, 1.0, 1.5)  # a chain of 3 s, far shorter than the outage
LAST_BATCH_LEAD_S = 2.0  # < sum(RETRY_DELAYS_S): the second batch outlives the outage

THROTTLE_S = 60 if FULL else 20
THROTTLE_DELAYS_S = (1.0, 2.0, THROTTLE_S + 2.0)  # the last retry lands after the window
THROTTLE_WAVES = 4  # traffic spread over the window

SES_RATE = "50"  # messages/s: enough that neither test waits on the rate limiter


def _until(deadline: float) -> None:
    """Let the outage clock run to `deadline`: traffic is timed against the
    fault window, this is scheduling, not waiting for a result."""
    time.sleep(max(0.0, deadline - time.monotonic()))


def _emails(expected: dict) -> set[str]:
    return {n for n, r in expected.items() if r["channel"] == "email"}


def test_ses_outage_dead_letters_after_last_retry_or_delivers(prefix, broker, worker_factory,
                                                              fault_proxy):
    early = steady_traffic(30, seed=71)
    late = steady_traffic(30, seed=72)
    expected_early, expected_late = expected_requests(early), expected_requests(late)
    ledger = Ledger({**expected_early, **expected_late}, prefix, broker)
    worker = worker_factory(ORDERCAST_AWS_ENDPOINT_URL=fault_proxy.url,
                            ORDERCAST_RETRY_DELAYS_S=json.dumps(RETRY_DELAYS_S),
                            ORDERCAST_AWS_SES_MAX_SEND_RATE=SES_RATE)

    fault_proxy.fault("5xx", 1.0, OUTAGE_S, match="ses")
    ends = time.monotonic() + OUTAGE_S
    publish_events(prefix, early)
    early_emails = _emails(expected_early)
    wait_for(lambda: early_emails <= set(ledger.observe().letters), OUTAGE_S - 4, 1.0,
             "the first batch's emails dead-lettered inside the outage")
    _until(ends - LAST_BATCH_LEAD_S)
    publish_events(prefix, late)

    verdict = check_delivered_once_or_dead_lettered(
        ledger, ambiguous=ambiguous_resends(worker), timeout=60 + OUTAGE_S,
        reasons={"ProviderUnavailable"})
    print(f"SES outage of {OUTAGE_S}s: {verdict}")
    assert set(verdict.letters) == early_emails
    for headers in verdict.letters.values():
        assert headers["attempts"] == str(len(RETRY_DELAYS_S) + 1)
        assert headers["original-topic"] == f"{prefix}ordercast.notify.email"
    assert fault_proxy.stats()["ses"]["5xx"] >= len(early_emails) * (len(RETRY_DELAYS_S) + 1)
    assert "Crashed" not in worker.log.read_text(errors="replace")


@pytest.mark.timeout(600 if FULL else 300)
def test_ses_throttling_delays_but_delivers_everything(prefix, broker, worker_factory,
                                                      fault_proxy):
    waves = [steady_traffic(25, seed=80 + i) for i in range(THROTTLE_WAVES)]
    ledger = Ledger({n: r for w in waves for n, r in expected_requests(w).items()},
                    prefix, broker)
    worker = worker_factory(ORDERCAST_AWS_ENDPOINT_URL=fault_proxy.url,
                            ORDERCAST_RETRY_DELAYS_S=json.dumps(THROTTLE_DELAYS_S),
                            ORDERCAST_AWS_SES_MAX_SEND_RATE=SES_RATE)

    fault_proxy.fault("throttle", 0.5, THROTTLE_S, match="ses")
    start = time.monotonic()
    for i, wave in enumerate(waves):
        _until(start + i * THROTTLE_S / THROTTLE_WAVES)
        publish_events(prefix, wave)

    verdict = check_delivered_once_or_dead_lettered(
        ledger, ambiguous=ambiguous_resends(worker), timeout=THROTTLE_S + 90,
        dead_letters_allowed=False)
    print(f"SES throttled 50% for {THROTTLE_S}s: {verdict}")
    assert fault_proxy.stats()["ses"]["throttle"] > 0
    assert worker.metric("ordercast_retries_total", channel="email") > 0
    assert "Crashed" not in worker.log.read_text(errors="replace")
