"""The stuck-send line (pure): which sends have sat in one stage too long."""

from __future__ import annotations

import time

from streams.delivery import Sending, stuck


def _at(stage: str, since: float) -> Sending:
    s = Sending()
    s.stage, s.since = stage, since
    return s


def test_nothing_is_stuck_within_the_limit():
    assert stuck([_at("provider", 50.0), _at("render", 99.0)], now=100.0, slow_s=60) is None


def test_stuck_sends_are_counted_by_stage_with_the_oldest_named():
    sends = [_at("in-flight mark", 0.0), _at("provider", 10.0), _at("provider", 20.0),
             _at("result", 90.0)]
    assert stuck(sends, now=100.0, slow_s=60) == (
        "3 sends stuck for over 60 s (2 in 'provider', 1 in 'in-flight mark'); "
        "the oldest in 'in-flight mark' for 100 s")


def test_entering_a_stage_restarts_its_clock():
    s = _at("provider", 0.0)
    before = time.monotonic()
    s.enter("result")
    assert s.stage == "result" and s.since >= before
