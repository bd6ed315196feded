"""The risk benchmark's own logic, without a broker: the paced stream it builds,
what it expects from it, and how it reports lost alerts."""

from __future__ import annotations

import math

import pytest

from bench.risk import QUICK, Stream, _finite, _match, _ms, at, paced_events
from bench.risk_data import START_MS
from streams.risk import DEFAULT_RULES, keys_for


@pytest.fixture(scope="module")
def paced():
    return paced_events(QUICK)


def test_the_paced_stream_runs_at_the_planned_rate(paced):
    times = [e["envelope"]["occurred_at"] for e in paced]
    assert times == sorted(times), "published in event-time order"
    assert times[0] >= 0 and times[-1] < QUICK.latency_s * 1000
    assert abs(len(paced) / QUICK.latency_s - QUICK.rate) < 0.05 * QUICK.rate


def test_the_paced_stream_moves_to_wall_clock_time_and_holds_alerts(paced):
    start = START_MS + 123_456
    stream = Stream.of(at([dict(e, envelope=dict(e["envelope"])) for e in paced], start),
                       encode=False)
    assert stream.events[0]["envelope"]["occurred_at"] >= start
    assert stream.encoded == []
    assert stream.observations == sum(len(keys_for(e, DEFAULT_RULES, {})) for e in paced)
    assert len(stream.expected) >= QUICK.bursts, "card-testing bursts must raise alerts"
    ids = {e["envelope"]["event_id"] for e in stream.events}
    assert set(stream.expected.values()) <= ids, "each alert names the event that crosses"


def test_the_backlog_encoding_keys_by_order():
    events = paced_events(QUICK)[:50]
    stream = Stream.of(events)
    assert [k for k, _ in stream.encoded] == [e["envelope"]["order_id"].encode() for e in events]
    assert all(v[:2] == b"\xc3\x01" for _, v in stream.encoded)


@pytest.mark.parametrize(("got", "capped", "says"), [
    ({("r", "k", 0), ("r", "k", 600_000)}, False, "all 2 match the reference"),
    ({("r", "k", 0)}, False, "1 missing, 0 unexpected of 2"),
    ({("r", "k", 0), ("r", "x", 0)}, False, "1 missing, 1 unexpected of 2"),
    ({("r", "k", 0)}, True, "1 of 2 (time cap)"),
])
def test_alerts_are_compared_with_the_reference(got, capped, says):
    expected = {("r", "k", 0): "e1", ("r", "k", 600_000): "e2"}
    assert _match(got, expected, capped) == says


def test_lost_alerts_are_reported_not_hidden():
    assert _finite(12.5) == 12.5
    assert _finite(math.inf) is None  # JSON null rather than a made-up number
    assert _ms(math.inf, 20) == "> 20 s"
    assert _ms(1234.56, 20) == "1,234.6 ms"
