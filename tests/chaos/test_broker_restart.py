"""The broker stops (clean SIGTERM shutdown) mid-run and comes back after a few
seconds, while platform teams keep publishing: nothing is lost, duplicates
stay within the admitted resends.

Runs on a broker of its own (the shared one carries other tests' traffic).
The worker is left alone unless the Kubernetes Deployment would act (see
`Supervisor`); a restart is reported as a warning.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from streams import topics
from streams.publish import prepare, publish
from tests.chaos.broker import OwnBroker, Supervisor
from tests.chaos.outcome import Ledger, ambiguous_resends, check_delivered_once_or_dead_lettered
from tests.chaos.traffic import steady_traffic
from tests.conftest import PARTITIONS, app_id
from tests.integration.expect import expected_requests
from tests.support import ROOT, Worker, free_port, unique_prefix, wait_for

pytestmark = pytest.mark.broker

BROKER_DOWN_S = 8.0  # how long the broker stays away
EVENTS = 200  # before the stop; as many again are published while it is down
ENV = {"ORDERCAST_AWS_SES_MAX_SEND_RATE": "15", "ORDERCAST_AWS_SMS_MAX_SEND_RATE": "15"}


@pytest.fixture
def own_broker(tmp_path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "stack")
    broker.start()
    yield broker
    broker.stop()


def _worker(broker: OwnBroker, prefix: str, moto: str, tmp_path) -> Worker:
    port = free_port()
    env = {**os.environ, "ORDERCAST_KAFKA_BOOTSTRAP": broker.bootstrap,
           "ORDERCAST_KAFKA_TOPIC_PREFIX": prefix, "ORDERCAST_APP_ID": app_id(prefix),
           "ORDERCAST_KAFKA_PARTITIONS": str(PARTITIONS), "ORDERCAST_WEB_PORT": str(port),
           "ORDERCAST_AWS_ENDPOINT_URL": moto, "ORDERCAST_DATA_DIR": str(tmp_path / "faust"),
           "PYTHONPATH": str(ROOT), **ENV}
    return Worker(env, port, tmp_path / "worker.log")


def test_broker_restart_mid_run_loses_nothing(own_broker, moto, tmp_path):
    prefix = unique_prefix()
    topics.apply(bootstrap=own_broker.bootstrap, prefix=prefix, partitions=PARTITIONS)
    before, during = steady_traffic(EVENTS, seed=101), steady_traffic(EVENTS, seed=102)
    ledger = Ledger({**expected_requests(before), **expected_requests(during)}, prefix,
                    own_broker.bootstrap)
    worker = _worker(own_broker, prefix, moto, tmp_path).start()
    supervisor = Supervisor(worker)
    supervisor.start()
    try:
        publish((prepare(t, d) for t, d in before), own_broker.bootstrap, prefix=prefix)
        wait_for(lambda: worker.metric("ordercast_deliveries_total", status="delivered")
                 >= len(ledger.expected) // 5, 90, message="a fifth delivered before the stop")

        own_broker.stop()
        stopped = time.monotonic()
        reports = []
        publisher = threading.Thread(target=lambda: reports.append(publish(
            (prepare(t, d) for t, d in during), own_broker.bootstrap, prefix=prefix,
            timeout=120)))
        publisher.start()  # the platform keeps publishing; the client buffers and retries
        time.sleep(max(0.0, stopped + BROKER_DOWN_S - time.monotonic()))  # the outage itself
        own_broker.start()
        publisher.join(150)
        assert reports and reports[0].published == len(during), "publisher lost events"

        verdict = check_delivered_once_or_dead_lettered(
            ledger, ambiguous=ambiguous_resends(worker), timeout=240,
            dead_letters_allowed=False)
        print(f"broker down {BROKER_DOWN_S:g}s: {verdict}; "
              f"restarts: {supervisor.restarts or 'none'}")
        assert worker.proc.poll() is None
        assert "Crashed" not in worker.log.read_text(errors="replace")
    finally:
        supervisor.stop()
        worker.kill()
