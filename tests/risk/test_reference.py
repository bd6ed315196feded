"""The engine against the brute-force reference in bench/risk_data.py."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.risk_data import (
    SCENARIOS,
    START_MS,
    as_ref,
    disorder,
    generate,
    key_labels,
    measure_state_memory,
    reference_alerts,
    run_engine,
    time_observe,
)
from schemas.codec import REGISTRY
from streams.risk.rules import DEFAULT_RULES, RiskRule, build_overrides

HOPPING = tuple(dataclasses.replace(r, window="hopping", step_s=60) for r in DEFAULT_RULES)
# a step that does not divide the size, and no grace for late events
ODD = tuple(dataclasses.replace(r, window="hopping", size_s=500, step_s=300, grace_s=0)
            for r in DEFAULT_RULES)
OVERRIDES = build_overrides({
    "shop-03": {"failures_per_ip": {"threshold": 3}, "emails_per_ip": {"threshold": 8}},
    "shop-07": {"failures_per_email": {"size_s": 300, "step_s": 60}},
}, DEFAULT_RULES)
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module", params=SEEDS)
def stream(request):
    return generate(seed=request.param, n_normal=3000)


def test_generated_events_are_valid_sorted_and_labelled():
    s = generate(seed=5, n_normal=500)
    assert len(s.events) == len(s.labels)
    for ev in s.events:
        REGISTRY.validate("payment_failed", ev)
    times = [ev["envelope"]["occurred_at"] for ev in s.events]
    assert times == sorted(times) and START_MS <= times[0] < times[-1] < START_MS + 3_600_000
    assert set(s.labels) == set(SCENARIOS) and Counter(s.labels)["normal"] == 500
    assert len({ev["envelope"]["event_id"] for ev in s.events}) == len(s.events)
    assert generate(seed=5, n_normal=500) == s
    assert generate(seed=6, n_normal=500).events != s.events


def test_disorder_makes_late_events_and_replays(stream):
    d = disorder(stream, seed=9)
    times = [ev["envelope"]["occurred_at"] for ev in d.events]
    late = sum(1 for a, b in zip(times, times[1:], strict=False) if b < a)
    ids = Counter(ev["envelope"]["event_id"] for ev in d.events)
    assert late > 50 and sum(n - 1 for n in ids.values()) > 50
    assert set(ids) == {ev["envelope"]["event_id"] for ev in stream.events}


@pytest.mark.parametrize("rules", [DEFAULT_RULES, HOPPING, ODD], ids=["tumbling", "hopping",
                                                                     "odd-step"])
@pytest.mark.parametrize("overrides", [None, OVERRIDES], ids=["shared", "overrides"])
@pytest.mark.parametrize("shuffle", [None, (0.05, 0.03), (0.3, 0.2)],
                         ids=["ordered", "late+replays", "chaos"])
def test_engine_matches_reference(stream, rules, overrides, shuffle):
    events = stream.events if shuffle is None else disorder(
        stream, seed=len(stream.events), late_fraction=shuffle[0],
        replay_fraction=shuffle[1]).events
    expected = reference_alerts(events, rules, overrides)
    raised, _ = run_engine(events, rules, overrides)
    assert len(expected) > 10
    assert as_ref(raised) == expected
    assert len(raised) == len(expected)  # no alert raised twice
    if overrides:
        assert any("@shop-03:" in a.key or "@shop-07:" in a.key for a in expected)


def test_tumbling_catches_attacks_and_spares_slow_and_straddling_keys(stream):
    alerted = {a.key.partition(":")[2] for a in reference_alerts(stream.events)}
    must_alert = {("card_testing_ip", "ip"), ("card_testing_email", "email"),
                  ("many_emails_ip", "ip")}
    checked = Counter()
    for value, scenarios in key_labels(stream).items():
        kind = "email" if "@" in value else "ip"
        if len(scenarios) == 1 and (next(iter(scenarios)), kind) in must_alert:
            assert value in alerted, (value, scenarios)
            checked["attack"] += 1
        if scenarios <= {"slow", "straddle"}:
            assert value not in alerted, (value, scenarios)
            checked["quiet"] += 1
    assert checked["attack"] >= 15 and checked["quiet"] >= 20


def test_hopping_catches_the_straddling_bursts(stream):
    straddling = {v for v, s in key_labels(stream).items() if s == {"straddle"}}
    alerted = {a.key.partition(":")[2] for a in reference_alerts(stream.events, HOPPING)}
    assert straddling and straddling <= alerted


def test_state_memory_measurement_runs():
    m = measure_state_memory(n_keys=2000)
    assert 200 < m["bytes_per_key"] < 2000 and 50 < m["json_bytes_per_key"] < 300
    assert m["dict_form_bytes_per_key"] > 0
    t = time_observe(generate(seed=1, n_normal=200).events)
    assert t["observe_calls"] > t["events"] > 0


def _rules(size_s: int, step_s: int, threshold: int, grace_s: int) -> tuple[RiskRule, ...]:
    window = "tumbling" if step_s == size_s else "hopping"
    return (
        RiskRule("failures_per_ip", "ip", window=window, size_s=size_s,
                 step_s=None if window == "tumbling" else step_s, threshold=threshold,
                 grace_s=grace_s),
        RiskRule("emails_per_ip", "ip", kind="distinct", window=window, size_s=size_s,
                 step_s=None if window == "tumbling" else step_s, threshold=threshold,
                 grace_s=grace_s),
    )


@settings(max_examples=300, deadline=None)
@given(
    size_s=st.sampled_from([60, 100, 120]),
    step_div=st.sampled_from([1, 2, 3, 5, 7]),
    threshold=st.integers(1, 5),
    grace_s=st.sampled_from([0, 30, 120]),
    steps=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 600), st.integers(0, 3),
                  st.integers(0, 40)),
        min_size=1, max_size=60),
)
def test_engine_matches_reference_on_arbitrary_streams(size_s, step_div, threshold, grace_s,
                                                       steps):
    """ip index, seconds, email index, and which earlier event (if any) to replay."""
    rules = _rules(size_s, max(1, size_s // step_div), threshold, grace_s)
    events = []
    for n, (ip, at_s, email, replay) in enumerate(steps):
        if replay < len(events) and replay % 3 == 0:
            events.append(events[replay])
            continue
        events.append({"envelope": {
            "event_id": f"e{n}", "occurred_at": START_MS + at_s * 1000, "merchant_id": "m",
            "order_id": None, "client_ip": f"10.0.0.{ip}",
            "buyer": {"email": f"b{email}@x.io" if email else None},
        }})
    raised, _ = run_engine(events, rules)
    assert as_ref(raised) == reference_alerts(events, rules)
