"""Consumer lag from offsets (pure) and the gauge's bounded label sets."""

from __future__ import annotations

import pytest
from faust.types import TP

from streams import lag, metrics

CATALOG = {"p.orders.created": "orders.created",
           "p.ordercast.notify.email": "ordercast.notify.email"}


@pytest.mark.parametrize(("assigned", "log_end", "committed", "earliest", "want"), [
    # behind by log end minus committed
    ([TP("p.orders.created", 0)], {TP("p.orders.created", 0): 120},
     {TP("p.orders.created", 0): 100}, {}, {("orders.created", "0"): 20}),
    # drained
    ([TP("p.orders.created", 1)], {TP("p.orders.created", 1): 7},
     {TP("p.orders.created", 1): 7}, {}, {("orders.created", "1"): 0}),
    # nothing committed yet: behind by everything still in the log
    ([TP("p.orders.created", 0)], {TP("p.orders.created", 0): 50},
     {TP("p.orders.created", 0): None}, {TP("p.orders.created", 0): 10},
     {("orders.created", "0"): 40}),
    # empty partition, nothing committed
    ([TP("p.orders.created", 0)], {TP("p.orders.created", 0): 0}, {}, {},
     {("orders.created", "0"): 0}),
    # changelogs and other non-catalog topics are not reported
    ([TP("ordercast-x-sends-changelog", 0)], {TP("ordercast-x-sends-changelog", 0): 9}, {}, {}, {}),
    # log end unknown (request failed for it): skipped, not guessed
    ([TP("p.orders.created", 0)], {}, {TP("p.orders.created", 0): 3}, {}, {}),
    # a committed offset past a stale log end never goes negative
    ([TP("p.ordercast.notify.email", 3)], {TP("p.ordercast.notify.email", 3): 5},
     {TP("p.ordercast.notify.email", 3): 6}, {}, {("ordercast.notify.email", "3"): 0}),
])
def test_partition_lags(assigned, log_end, committed, earliest, want):
    assert lag.partition_lags(assigned, CATALOG, log_end, committed, earliest) == want


def _series() -> dict[tuple[str, str], float]:
    return {(s.labels["topic"], s.labels["partition"]): s.value
            for m in metrics.LAG.collect() for s in m.samples}


def test_publish_drops_partitions_no_longer_assigned():
    lag.publish({("orders.created", "0"): 5, ("orders.created", "1"): 2})
    assert _series() == {("orders.created", "0"): 5, ("orders.created", "1"): 2}
    lag.publish({("orders.created", "1"): 0})  # partition 0 moved to another worker
    assert _series() == {("orders.created", "1"): 0}
    lag.publish({})
    assert _series() == {}


def test_series_name_the_consumer_group():
    from streams.app import app

    lag.publish({("orders.payment-failed", "3"): 7})
    assert {s.labels["group"] for m in metrics.LAG.collect() for s in m.samples} == {app.conf.id}
    lag.publish({})


def test_ticks_that_cannot_look_are_a_warning_once_they_are_no_blip(caplog, monkeypatch):
    monkeypatch.setitem(lag._misses, "offsets", 0)
    caplog.set_level("DEBUG", logger="streams.lag")
    for _ in range(lag.QUIET_TICKS + 2):
        lag._missed("offsets", "TimeoutError()")
    levels = [r.levelname for r in caplog.records]
    assert levels.count("WARNING") == 1
    assert levels.index("WARNING") == lag.QUIET_TICKS - 1
    assert "cannot look" in caplog.records[lag.QUIET_TICKS - 1].getMessage()
