from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.risk.engine import observe
from streams.risk.rules import (
    DEFAULT_RULES,
    EventFields,
    RiskRule,
    RuleError,
    build_overrides,
    fields_of,
    keys_for,
    rule_for,
    split_key,
)

from .conftest import T0

IP_RULE, EMAIL_RULE, DISTINCT_RULE = DEFAULT_RULES


def record(ip: str | None = "203.0.113.7", email: str | None = "Buyer@Example.com",
           merchant: str = "shop-1", event_id: str = "e1") -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": event_id, "occurred_at": T0, "merchant_id": merchant,
            "order_id": "O1",
            "buyer": {"buyer_id": "b1", "email": email, "phone": None, "locale": "zh-CN",
                      "timezone": "Asia/Shanghai"},
            "client_ip": ip, "amount_minor": 990, "currency": "CNY",
        },
        "payment_method": "card", "failure_code": "card_declined", "attempt": 1,
    }


def test_defaults():
    assert [(r.name, r.key_type, r.kind, r.threshold, r.size_s, r.window)
            for r in DEFAULT_RULES] == [
        ("failures_per_ip", "ip", "count", 5, 600, "tumbling"),
        ("failures_per_email", "email", "count", 5, 600, "tumbling"),
        ("emails_per_ip", "ip", "distinct", 4, 600, "tumbling"),
    ]
    assert (IP_RULE.size_ms, IP_RULE.step_ms, IP_RULE.grace_ms) == (600_000, 600_000, 600_000)
    hopping = RiskRule("x", "ip", window="hopping", size_s=600, step_s=60, grace_s=30)
    assert (hopping.step_ms, hopping.grace_ms) == (60_000, 30_000)


@pytest.mark.parametrize("kwargs", [
    {"name": "Failures"},
    {"name": "a:b"},
    {"key_type": "phone"},
    {"kind": "sum"},
    {"kind": "distinct", "key_type": "email"},
    {"window": "sliding"},
    {"window": "tumbling", "step_s": 60},
    {"window": "hopping"},
    {"window": "hopping", "step_s": 700},
    {"window": "hopping", "step_s": 0},
    {"size_s": 0},
    {"threshold": 0},
    {"severity": "urgent"},
    {"grace_s": -1},
    {"merchant_id": "shop:9"},
    {"merchant_id": ""},
])
def test_invalid_rules_are_rejected(kwargs):
    args = {"name": "r", "key_type": "ip", **kwargs}
    with pytest.raises(RuleError) as exc:
        RiskRule(**args)
    assert exc.value.retriable is False


def test_fields_of_normalises_ip_and_email():
    f = fields_of(record(ip=" 2001:DB8::1 ", email="  Buyer@Example.COM "))
    assert f == EventFields("e1", T0, "shop-1", "O1", "2001:db8::1", "buyer@example.com")
    assert fields_of(record()["envelope"]) == fields_of(record())
    assert fields_of(record(ip="", email="   ")).ip is None
    assert fields_of(record(ip="", email="   ")).email is None


@pytest.mark.parametrize(("ip", "email", "expected"), [
    ("203.0.113.7", "b@x.io", ["failures_per_ip:203.0.113.7", "failures_per_email:b@x.io",
                               "emails_per_ip:203.0.113.7"]),
    (None, "b@x.io", ["failures_per_email:b@x.io"]),
    ("203.0.113.7", None, ["failures_per_ip:203.0.113.7"]),
    ("2001:db8::1", None, ["failures_per_ip:2001:db8::1"]),
    (None, None, []),
])
def test_keys_for(ip, email, expected):
    pairs = keys_for(record(ip=ip, email=email))
    assert [k for _, k in pairs] == expected
    assert all(rule in DEFAULT_RULES for rule, _ in pairs)
    assert keys_for(fields_of(record(ip=ip, email=email))) == pairs


OVERRIDES = build_overrides(
    {"shop-9": {"failures_per_ip": {"threshold": 20},
                "failures_per_email": {"size_s": 300, "step_s": 60}}},
    DEFAULT_RULES,
)


def test_build_overrides():
    ip9 = OVERRIDES[("shop-9", "failures_per_ip")]
    assert (ip9.threshold, ip9.size_s, ip9.window, ip9.merchant_id) == (20, 600, "tumbling",
                                                                      "shop-9")
    email9 = OVERRIDES[("shop-9", "failures_per_email")]
    assert (email9.window, email9.size_s, email9.step_s, email9.threshold) == (
        "hopping", 300, 60, 5)
    resized = build_overrides({"m": {"failures_per_ip": {"size_s": 120}}}, DEFAULT_RULES)
    assert resized[("m", "failures_per_ip")].step_ms == 120_000


@pytest.mark.parametrize("spec", [
    {"shop-9": {"no_such_rule": {"threshold": 3}}},
    {"shop-9": {"failures_per_ip": {"severity": "low"}}},
    {"shop-9": {"failures_per_ip": {"threshold": 0}}},
    {"shop:9": {"failures_per_ip": {"threshold": 3}}},
])
def test_bad_overrides_are_rejected(spec):
    with pytest.raises(RuleError):
        build_overrides(spec, DEFAULT_RULES)


def test_override_scopes_only_that_merchant_and_rule():
    shared = [k for _, k in keys_for(record(merchant="shop-1"), DEFAULT_RULES, OVERRIDES)]
    scoped = keys_for(record(merchant="shop-9"), DEFAULT_RULES, OVERRIDES)
    assert shared == ["failures_per_ip:203.0.113.7", "failures_per_email:buyer@example.com",
                      "emails_per_ip:203.0.113.7"]
    assert [k for _, k in scoped] == ["failures_per_ip@shop-9:203.0.113.7",
                                      "failures_per_email@shop-9:buyer@example.com",
                                      "emails_per_ip:203.0.113.7"]
    assert scoped[0][0].threshold == 20


def test_rule_for_resolves_every_key_back_to_its_rule():
    for merchant in ("shop-1", "shop-9"):
        for rule, key in keys_for(record(merchant=merchant), DEFAULT_RULES, OVERRIDES):
            assert rule_for(key, DEFAULT_RULES, OVERRIDES) == rule
    assert split_key("failures_per_ip@shop-9:2001:db8::1") == (
        "failures_per_ip", "shop-9", "2001:db8::1")


def test_rule_for_a_dropped_override_keeps_the_scope_with_base_parameters():
    rule = rule_for("failures_per_ip@shop-3:203.0.113.7", DEFAULT_RULES, OVERRIDES)
    assert rule == dataclasses.replace(IP_RULE, merchant_id="shop-3")
    assert rule.prefix == "failures_per_ip@shop-3:"


@pytest.mark.parametrize("key", ["retired_rule:203.0.113.7", "no-separator"])
def test_rule_for_unknown_keys_raises(key):
    with pytest.raises(RuleError):
        rule_for(key, DEFAULT_RULES, OVERRIDES)


def test_override_counts_a_merchant_apart_from_the_others():
    """shop-9 tolerates 20 failures per IP; its failures do not feed the shared
    counter, and the other shops' failures do not feed shop-9's."""
    table: dict[str, Any] = {}
    raised = []
    plan = ["shop-9"] * 6 + ["shop-1", "shop-2"] * 2 + ["shop-9"] * 14 + ["shop-3"]
    for i, merchant in enumerate(plan):
        f = fields_of(record(merchant=merchant, email=None, event_id=f"e{i}"))
        f = f._replace(occurred_at=T0 + i * 1000)
        for rule, key in keys_for(f, DEFAULT_RULES, OVERRIDES):
            table[key], alerts = observe(table.get(key), rule, key, f, 0)
            raised += [(key, i) for _ in alerts]
    assert raised == [("failures_per_ip@shop-9:203.0.113.7", 23),
                      ("failures_per_ip:203.0.113.7", 24)]
