"""Fixtures for tests on the real local stack (`ordercast stack up`).

Under CI=true a missing broker fails the run; locally those tests skip with a
clear message. Each test gets its own topic prefix and consumer group, so tests
never see each other's traffic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import BOOTSTRAP, MOTO_URL, ROOT, Worker, free_port, unique_prefix

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    message = f"{what} is not reachable; start it with `ordercast stack up`"
    if IN_CI:
        pytest.fail(message + " (CI=true: broker tests must run, not skip)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def broker() -> str:
    from streams.stack import kafka_ready

    _require(kafka_ready(5.0), f"Kafka at {BOOTSTRAP}")
    return BOOTSTRAP


@pytest.fixture(scope="session")
def moto() -> str:
    from streams.stack import moto_ready

    _require(moto_ready(), f"moto at {MOTO_URL}")
    return MOTO_URL


# Few partitions per test namespace: the broker holds every test's topics at once.
PARTITIONS = 2


@pytest.fixture
def prefix(broker: str) -> Iterator[str]:
    """A fresh topic namespace with the whole catalog provisioned; its topics
    (and the workers' table changelogs) are deleted afterwards."""
    from streams import topics

    p = unique_prefix()
    topics.apply(prefix=p, partitions=PARTITIONS)
    yield p
    topics.delete_prefixed((p, app_id(p)))


def app_id(prefix: str) -> str:
    return f"ordercast-{prefix.rstrip('.')}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed  # the workers' teardown says where they were
    return report


@pytest.fixture
def worker_factory(request, prefix: str, moto: str, tmp_path) -> Iterator:
    """Start workers sharing this test's topics and consumer group."""
    started: list[Worker] = []

    def make(start: bool = True, **env: str) -> Worker:
        port = free_port()
        full = {
            **os.environ,
            "ORDERCAST_KAFKA_TOPIC_PREFIX": prefix,
            "ORDERCAST_APP_ID": app_id(prefix),
            "ORDERCAST_KAFKA_PARTITIONS": str(PARTITIONS),
            # the emulator reports the SES sandbox quota (1/s): too slow for tests
            "ORDERCAST_AWS_SES_MAX_SEND_RATE": "200",
            "ORDERCAST_WEB_PORT": str(port),
            "ORDERCAST_AWS_ENDPOINT_URL": moto,
            "ORDERCAST_DATA_DIR": str(tmp_path / "faust"),
            "PYTHONPATH": str(ROOT),
            **env,
        }
        w = Worker(full, port, tmp_path / f"worker-{len(started)}.log")
        started.append(w)
        return w.start() if start else w

    yield make
    if getattr(request.node, "call_failed", False):
        for w in started:
            print(w.diagnose())
    for w in started:
        w.kill()
