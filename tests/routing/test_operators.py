"""Operator copies of watched orders, and operator emails for risk alerts."""

from __future__ import annotations

import pytest

from schemas.codec import REGISTRY
from streams.routing import risk_alert_requests, route
from streams.routing.operators import copy_reasons, mask_key

from .factories import ITEM, T0, envelope, event, merchant


def operator_requests(out):
    return [r for r in out if r["role"] == "operator"]


@pytest.mark.parametrize("amount, recent, items, reasons", [
    (8800, 1, [ITEM], []),
    (100000, 1, [ITEM], []),  # at the threshold is not above it
    (100001, 1, [ITEM], ["amount"]),
    (8800, 5, [ITEM], ["high_frequency"]),
    (8800, 4, [ITEM], []),
    (8800, 1, [{**ITEM, "sensitive": True}], ["sensitive"]),
    (8800, 1, [{**ITEM, "sku": "SKU-HOT"}], ["sensitive"]),
    (200000, 9, [{**ITEM, "sku": "SKU-HOT"}], ["amount", "high_frequency", "sensitive"]),
])
def test_copy_reasons(amount, recent, items, reasons):
    ev = event("payment_succeeded", envelope(amount_minor=amount), items=items)
    assert list(copy_reasons(ev, merchant(), recent)) == reasons
    out = operator_requests(route(ev, None, merchant(), T0, event_type="payment_succeeded",
                                  recent_orders_by_buyer=recent))
    assert len(out) == (1 if reasons else 0)
    for req in out:
        REGISTRY.validate("notification_request", req)
        assert (req["template"], req["channel"], req["address"]) == (
            "operator_order_copy", "email", "ops@shop-1.example")
        assert req["variables"]["reason_codes"] == ",".join(reasons)
        assert req["fallback"] == [] and req["not_before"] is None


def test_reason_text_is_in_the_merchants_locale():
    ev = event("payment_succeeded", envelope(amount_minor=150000))
    zh = operator_requests(route(ev, None, merchant(), T0, event_type="payment_succeeded"))
    assert zh[0]["variables"]["reason"] == "金额 ¥1,500.00 超过阈值 ¥1,000.00"
    en = operator_requests(route(ev, None, merchant(default_locale="en-US"), T0,
                                 event_type="payment_succeeded"))
    assert en[0]["variables"]["reason"] == (
        "amount CN¥1,500.00 is above the threshold of CN¥1,000.00")
    assert en[0]["locale"] == "en-US" and en[0]["timezone"] == "Asia/Shanghai"


def test_one_copy_per_operator_address_and_none_without_operators():
    ev = event("payment_succeeded", envelope(amount_minor=150000))
    many = merchant(operator_emails=["a@shop-1.example", "b@shop-1.example"])
    out = operator_requests(route(ev, None, many, T0, event_type="payment_succeeded"))
    assert [r["address"] for r in out] == ["a@shop-1.example", "b@shop-1.example"]
    assert len({r["recipient_id"] for r in out}) == 2
    assert all("@" not in r["recipient_id"] for r in out)
    assert operator_requests(route(ev, None, merchant(operator_emails=[]), T0,
                                   event_type="payment_succeeded")) == []


def test_disabled_rules_never_copy():
    ev = event("payment_succeeded", envelope(amount_minor=10**9))
    m = merchant(amount_threshold_minor=None, high_frequency_orders=0)
    assert copy_reasons(ev, m, 1000) == {}


def test_only_paid_orders_are_copied():
    ev = event("card_key_ready", envelope(amount_minor=10**9))
    assert operator_requests(route(ev, None, merchant(), T0, event_type="card_key_ready")) == []


@pytest.mark.parametrize("key_type, value, masked", [
    ("ip", "203.0.113.7", "203.0.113.*"),
    ("ip", "2001:db8:1:2::9", "2001:0db8:0001:*"),
    ("email", "carder@mail.example", "c***@mail.example"),
    ("ip", "not-an-ip", "no***"),
])
def test_mask_key(key_type, value, masked):
    assert mask_key(key_type, value) == masked


ALERT = {"alert_id": "al-1", "rule": "failures_per_ip", "key_type": "ip",
         "key_value": "203.0.113.7", "count": 7, "threshold": 5,
         "window_start": T0 - 600_000, "window_end": T0, "first_seen": T0 - 500_000,
         "last_seen": T0, "merchant_ids": ["m-1"], "sample_order_ids": ["o-1", "o-2"],
         "severity": "high", "raised_at": T0}


def test_risk_alert_goes_to_risk_contacts_masked():
    REGISTRY.validate("risk_alert", ALERT)
    (req,) = risk_alert_requests(ALERT, merchant())
    REGISTRY.validate("notification_request", req)
    assert (req["template"], req["address"], req["priority"]) == (
        "risk_alert", "risk@shop-1.example", "urgent")
    assert req["variables"]["key"] == "203.0.113.*"
    assert "203.0.113.7" not in repr(req)
    assert req["variables"]["window_minutes"] == "10"
    assert req["variables"]["window_end"] == "2024-05-01 20:30"


def test_risk_alert_falls_back_to_operators():
    out = risk_alert_requests(ALERT, merchant(risk_contacts=[]))
    assert [r["address"] for r in out] == ["ops@shop-1.example"]
    assert risk_alert_requests(ALERT, merchant(risk_contacts=[], operator_emails=[])) == []
