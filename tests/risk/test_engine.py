from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import pytest

from schemas.codec import REGISTRY, decode, encode
from streams.risk.engine import (
    MAX_MERCHANTS,
    MAX_ORDERS,
    KeyState,
    alert_id,
    dumps,
    expires_at,
    loads,
    observe,
)
from streams.risk.rules import RiskRule

from .conftest import T0

MIN = 60_000
TUMBLING = RiskRule("failures_per_ip", "ip", threshold=5, size_s=600)
HOPPING = RiskRule("failures_per_ip", "ip", window="hopping", size_s=600, step_s=60,
                   threshold=5)
DISTINCT = RiskRule("emails_per_ip", "ip", kind="distinct", threshold=4, size_s=600,
                    severity="medium")
KEY = "failures_per_ip:203.0.113.7"


def feed(events: Iterable[Any], rule: RiskRule = TUMBLING, state: Any = None,
         key: str = KEY, raised_at: int = 42) -> tuple[KeyState, list[list[dict[str, Any]]]]:
    """Observe events in order; returns the state and the alerts raised per event."""
    per_event = []
    for ev in events:
        state, alerts = observe(state, rule, key, ev, raised_at)
        per_event.append(alerts)
    return state, per_event


def flat(per_event: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [a for alerts in per_event for a in alerts]


def test_alert_fires_on_the_event_that_reaches_the_threshold(event):
    state, per_event = feed(event(s) for s in (10, 20, 30, 40, 50, 60))
    assert [len(a) for a in per_event] == [0, 0, 0, 0, 1, 0]
    (alert,) = per_event[4]
    assert (alert["window_start"], alert["window_end"]) == (T0, T0 + 600_000)
    assert (alert["count"], alert["threshold"]) == (5, 5)
    assert state.alerted(T0, TUMBLING) and state.count(T0, TUMBLING) == 6


def test_storm_raises_one_alert_per_window(event):
    # 100 failures a minute for 25 minutes: windows at 0, 10 and 20 minutes
    events = [event(m * 60 + i * 0.6) for m in range(25) for i in range(100)]
    _, per_event = feed(events)
    alerts = flat(per_event)
    assert [a["window_start"] for a in alerts] == [T0, T0 + 10 * MIN, T0 + 20 * MIN]
    assert len({a["alert_id"] for a in alerts}) == 3


@pytest.mark.parametrize(("rule", "expected"), [
    (TUMBLING, []),
    # the hopping windows starting at 1 to 9 minutes each hold five or six of them
    (HOPPING, [T0 + m * MIN for m in range(1, 10)]),
])
def test_burst_straddling_a_tumbling_boundary(event, rule, expected):
    times = (510, 540, 570, 610, 640, 670)  # 3 before and 3 after 10:00
    _, per_event = feed((event(s) for s in times), rule)
    assert sorted(a["window_start"] for a in flat(per_event)) == expected


@pytest.mark.parametrize("rule", [TUMBLING, HOPPING])
def test_slow_attack_just_under_the_threshold_never_alerts(event, rule):
    events = [event(i * 151) for i in range(200)]  # 4 per 10 minutes, for 8 hours
    state, per_event = feed(events, rule)
    assert flat(per_event) == []
    assert max(len(w) for w in state.windows if type(w) is tuple) == 4


def test_hopping_alerts_every_window_that_reaches_the_threshold(event):
    rule = dataclasses.replace(HOPPING, step_s=300)
    _, per_event = feed((event(s) for s in (310, 320, 330, 340, 350)), rule)
    assert [a["window_start"] for a in per_event[4]] == [T0, T0 + 5 * MIN]


def test_replayed_events_never_count_twice(event):
    events = [event(s) for s in (10, 20, 30, 40, 50, 60)]
    state, per_event = feed(events[:4] + events[:4])
    assert flat(per_event) == [] and state.count(T0, TUMBLING) == 4
    state, per_event = feed([events[4]], state=state)
    assert len(flat(per_event)) == 1
    _, per_event = feed(events, state=state)  # a replay after the alert
    assert flat(per_event) == []


def test_recovered_state_replay_keeps_the_alert_id(event):
    """Crash after the changelog got event 3's state but before the offset
    commit: the events from 2 on are delivered again."""
    events = [event(s) for s in (10, 20, 30, 40, 50)]
    _, first_run = feed(events)
    state, _ = feed(events[:3])
    restored = json.loads(json.dumps(state.to_dict()))
    _, second_run = feed(events[1:], state=restored)
    assert flat(second_run) == flat(first_run)
    assert flat(first_run)[0]["alert_id"] == alert_id(KEY, T0)


def test_alert_id_depends_on_key_and_window_only():
    assert alert_id(KEY, T0) == alert_id(KEY, T0)
    assert len({alert_id(KEY, T0), alert_id(KEY, T0 + 1), alert_id(KEY + "1", T0),
                alert_id("failures_per_ip@shop-1:203.0.113.7", T0)}) == 4


def test_late_event_counts_in_a_window_still_open(event):
    state, per_event = feed(event(s) for s in (100, 200, 300, 400, 700, 500))
    (alert,) = flat(per_event)
    assert alert["window_start"] == T0 and alert["last_seen"] == T0 + 700_000
    assert state.count(T0 + 10 * MIN, TUMBLING) == 1


def test_late_event_moves_first_seen_back(event):
    state, _ = feed(event(s) for s in (300, 100))
    assert (state.first_seen, state.newest) == (T0 + 100_000, T0 + 300_000)


@pytest.mark.parametrize(("grace_s", "late_at_s", "counted"), [
    (600, 1200, True),  # window [0, 600) is kept while newest - grace <= its end
    (600, 1200.001, False),
    (0, 600, True),
    (0, 600.001, False),
])
def test_late_event_dropped_once_its_window_expired(event, grace_s, late_at_s, counted):
    rule = dataclasses.replace(TUMBLING, grace_s=grace_s)
    newest = event(late_at_s)
    state, _ = feed([event(s) for s in (100, 200, 300, 400)] + [newest], rule)
    before = state.to_dict()
    state, per_event = feed([event(500)], rule, state)
    assert bool(flat(per_event)) is counted
    if not counted:
        assert state.to_dict() == before


def test_state_stays_bounded_over_a_long_stream(event):
    # 3 failures a minute for 10 days: expired windows are dropped as time moves on
    for rule in (TUMBLING, HOPPING):
        state = None
        sizes = []
        for i in range(0, 10 * 24 * 60 * 3, 7):
            state, _ = observe(state, rule, KEY, event(i * 20, order=f"O{i}"), 0)
            sizes.append(len(dumps(state)))
        bound = (rule.size_ms + rule.grace_ms) // rule.step_ms + 1
        assert len(state.windows) <= bound
        assert len(state.orders) == MAX_ORDERS
        assert max(sizes[-500:]) <= max(sizes[:500]) * 1.2


def test_state_round_trips_through_dict_and_bytes(event):
    rule = dataclasses.replace(HOPPING, step_s=120)
    events = [event(s, merchant=f"shop-{s % 3}") for s in (10, 20, 30, 40, 50, 1190)]
    state, _ = feed(events, rule)
    assert any(type(w) is int for w in state.windows)
    assert any(w is None for w in state.windows)  # a gap between open windows
    assert any(type(w) is tuple for w in state.windows)
    as_dict = json.loads(json.dumps(state.to_dict()))
    copy = KeyState.from_dict(as_dict)
    assert copy == state and loads(dumps(state)) == state
    nxt = [event(s) for s in (1200, 1210, 1220, 1230, 1240)]
    a, from_object = feed(nxt, rule, state)
    b, from_copy = feed(nxt, rule, copy)
    c, from_dict = feed(nxt, rule, as_dict)  # what an in-memory table holds after recovery
    assert flat(from_object) and from_object == from_copy == from_dict
    assert a == b == c


def test_alert_is_a_valid_risk_alert_record(event):
    events = [event(s, merchant=f"shop-{s}", order=f"O-{s}") for s in range(10, 130, 10)]
    _, per_event = feed(events, dataclasses.replace(TUMBLING, threshold=12), raised_at=T0 + 9)
    (alert,) = flat(per_event)
    REGISTRY.validate("risk_alert", alert)
    assert decode(encode("risk_alert", alert), expect="risk_alert") == alert
    assert alert["key_value"] == "203.0.113.7" and alert["key_type"] == "ip"
    assert alert["rule"] == "failures_per_ip" and alert["severity"] == "high"
    assert (alert["first_seen"], alert["last_seen"]) == (T0 + 10_000, T0 + 120_000)
    assert alert["raised_at"] == T0 + 9
    assert alert["merchant_ids"] == [f"shop-{s}" for s in range(10, 110, 10)]
    assert len(alert["merchant_ids"]) == MAX_MERCHANTS
    assert alert["sample_order_ids"] == [f"O-{s}" for s in range(30, 130, 10)]


def test_distinct_rule_counts_distinct_emails(event):
    key = "emails_per_ip:203.0.113.7"
    emails = ["a@x.io", "b@x.io", "a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]
    state, per_event = feed((event(i, email=e) for i, e in enumerate(emails)), DISTINCT,
                            key=key)
    assert [len(a) for a in per_event] == [0, 0, 0, 0, 0, 1, 0]
    assert per_event[5][0]["count"] == 4 and per_event[5][0]["severity"] == "medium"
    assert "@" not in repr(state)  # emails never reach a log line through the state
    state, per_event = feed([event(30, email=None)], DISTINCT, state, key=key)
    assert flat(per_event) == [] and state.newest == T0 + 6000


def test_threshold_of_one_alerts_on_the_first_event(event):
    rule = dataclasses.replace(TUMBLING, threshold=1)
    _, per_event = feed((event(s) for s in (10, 20, 610)), rule)
    assert [[a["window_start"] for a in alerts] for alerts in per_event] == [
        [T0], [], [T0 + 10 * MIN]]


def test_context_restarts_after_the_key_went_quiet(event):
    state, _ = feed([event(10, merchant="shop-a"), event(20, merchant="shop-b")])
    assert state.first_seen == T0 + 10_000 and state.merchants == ("shop-a", "shop-b")
    assert expires_at(state, TUMBLING) == T0 + 20_000 + 1_200_000
    state, _ = feed([event(3600, merchant="shop-c")], state=state)
    assert state.first_seen == T0 + 3_600_000 and state.merchants == ("shop-c",)
    assert len(state.windows) == 1


def test_changed_window_step_discards_misaligned_windows(event):
    state, _ = feed([event(330)], dataclasses.replace(HOPPING, step_s=300))
    state, per_event = feed([event(s) for s in (340, 350, 360, 370)], TUMBLING, state)
    assert flat(per_event) == [] and state.count(T0, TUMBLING) == 4
