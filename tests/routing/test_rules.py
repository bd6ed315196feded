"""The routing table, event type x preference case: what goes out, where, when."""

from __future__ import annotations

import pytest

from schemas.codec import REGISTRY
from streams.routing import RULES, UnroutableEvent, notification_id, route
from streams.routing.rules import all_templates, rule_for

from .factories import T0, buyer, channels, envelope, event, merchant, ms, prefs

ALL3 = {"sms", "email", "inapp"}
EI = {"email", "inapp"}

# event type, sub-kind fields, template, category, priority, buyer channels (full contacts)
TABLE = [
    ("order_created", {}, None, None, None, set()),
    ("payment_succeeded", {}, "payment_succeeded", "transaction", "urgent", ALL3),
    ("payment_failed", {}, "payment_failed", "transaction", "important", EI),
    ("card_key_ready", {}, "card_key_ready", "transaction", "urgent", ALL3),
    ("refund", {"stage": "STARTED"}, "refund_started", "transaction", "important", EI),
    ("refund", {"stage": "COMPLETED"}, "refund_completed", "transaction", "important", EI),
    ("order_exception", {"kind": "OUT_OF_STOCK"}, "order_out_of_stock", "transaction", "urgent",
     ALL3),
    ("order_exception", {"kind": "PAYMENT_FAILURE"}, "order_payment_failure", "transaction",
     "important", EI),
    ("order_exception", {"kind": "LOGISTICS_DELAY"}, "logistics_delay", "transaction",
     "important", EI),
    ("order_exception", {"kind": "CANCELLED"}, "order_cancelled", "transaction", "urgent", ALL3),
    ("order_exception", {"kind": "ADDRESS_INVALID"}, "order_address_invalid", "transaction",
     "important", EI),
    ("logistics_update", {}, None, None, None, set()),
    ("account_security", {"kind": "NEW_DEVICE_LOGIN"}, "security_new_device",
     "account_security", "urgent", ALL3),
    ("account_security", {"kind": "FUNDS_CHANGE"}, "security_funds_change", "account_security",
     "urgent", ALL3),
    ("account_security", {"kind": "PASSWORD_CHANGED"}, "security_password_changed",
     "account_security", "urgent", ALL3),
    ("system_announcement", {}, "system_announcement", "system", "normal", EI),
    ("marketing", {}, "marketing", "marketing", "normal", EI),
]
IDS = [f"{t[0]}:{next(iter(t[1].values()), '-')}" for t in TABLE]

QUIET_START = ms("2024-05-01T12:30")  # 20:30 in Shanghai
QUIET_END = ms("2024-05-01T23:00")  # 07:00 next morning in Shanghai


def _floor(template, base):
    """card_key_ready always keeps one of email, else in-app."""
    return {"email"} if template == "card_key_ready" else set()


# name, preference record fields, buyer overrides, expected channels(base, template, category, prio)
PREF_CASES = [
    ("no-prefs", None, {}, lambda b, t, c, p: b),
    ("opt-out-sms", {"opted_out_channels": ["sms"]}, {}, lambda b, t, c, p: b - {"sms"}),
    ("opt-out-email", {"opted_out_channels": ["email"]}, {}, lambda b, t, c, p: b - {"email"}),
    ("opt-out-email-inapp", {"opted_out_channels": ["email", "inapp"]}, {},
     lambda b, t, c, p: (b - EI) | _floor(t, b)),
    ("opt-out-all-channels", {"opted_out_channels": ["sms", "email", "inapp"]}, {},
     lambda b, t, c, p: _floor(t, b) if b else set()),
    ("opt-out-category", "own-category", {}, lambda b, t, c, p: _floor(t, b) if b else set()),
    ("opt-out-marketing", {"opted_out_categories": ["marketing"]}, {},
     lambda b, t, c, p: set() if c == "marketing" else b),
    ("no-phone", None, {"phone": None}, lambda b, t, c, p: b - {"sms"}),
    ("no-email", None, {"email": None}, lambda b, t, c, p: b - {"email"}),
    ("inapp-only", None, {"phone": None, "email": None}, lambda b, t, c, p: b & {"inapp"}),
    ("no-contacts", None, {"phone": None, "email": None, "buyer_id": ""}, lambda *a: set()),
    ("all-opted-out-no-email", {"opted_out_channels": ["sms", "email", "inapp"]},
     {"email": None}, lambda b, t, c, p: {"inapp"} if t == "card_key_ready" else set()),
    ("vip", {"vip_tier": 2}, {},
     lambda b, t, c, p: b | {"sms"} if (p, c) == ("important", "transaction") else b),
    ("quiet-hours", {"quiet_hours": {"start": "20:00", "end": "07:00"}}, {},
     lambda b, t, c, p: b),
]


@pytest.mark.parametrize("pcase", PREF_CASES, ids=[c[0] for c in PREF_CASES])
@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_event_x_preferences(row, pcase):
    etype, kind, template, category, priority, base = row
    _, pref_fields, buyer_over, expect = pcase
    if pref_fields == "own-category":
        pref_fields = {"opted_out_categories": [category or "transaction"]}
    ev = event(etype, envelope(buyer=buyer(**buyer_over)), **kind)
    p = prefs(**pref_fields) if pref_fields else None

    out = route(ev, p, merchant(), QUIET_START, event_type=etype)

    assert channels(out) == expect(base, template, category, priority)
    for req in out:
        REGISTRY.validate("notification_request", req)
        assert (req["template"], req["category"], req["priority"]) == (
            template, category, priority)
        assert req["event_type"] == etype and req["event_id"] == "ev-1"
        if pcase[0] == "quiet-hours":
            deferred = req["channel"] == "sms" or priority == "normal"
            assert req["not_before"] == (QUIET_END if deferred else None)
        else:
            assert req["not_before"] is None
    assert len({r["notification_id"] for r in out}) == len(out)


def test_every_schema_event_type_is_in_the_table():
    lifecycle = {"order_created", "payment_succeeded", "payment_failed", "card_key_ready",
                 "refund", "order_exception", "logistics_update", "account_security",
                 "system_announcement", "marketing"}
    assert lifecycle <= {etype for etype, _ in RULES}
    assert {t[0] for t in TABLE} == lifecycle


@pytest.mark.parametrize("etype", ["payment_succeeded", "card_key_ready"])
def test_urgent_fallbacks_point_to_the_other_contact(etype):
    out = {r["channel"]: r for r in route(event(etype), None, merchant(), T0, event_type=etype)}
    assert out["sms"]["fallback"] == [{"channel": "email", "address": "buyer@mail.example"}]
    assert out["email"]["fallback"] == [{"channel": "sms", "address": "+8613812345678"}]
    assert out["inapp"]["fallback"] == []


def test_fallback_needs_the_other_contact_and_respects_channel_opt_out():
    ev = event("card_key_ready", envelope(buyer=buyer(phone=None)))
    assert {r["channel"]: r["fallback"] for r in route(ev, None, merchant(), T0,
            event_type="card_key_ready")} == {"email": [], "inapp": []}
    out = route(event("card_key_ready"), prefs(opted_out_channels=["email"]), merchant(), T0,
                event_type="card_key_ready")
    assert {r["channel"]: r["fallback"] for r in out} == {"sms": [], "inapp": []}


def test_important_notifications_carry_no_fallback():
    out = route(event("payment_failed"), None, merchant(), T0, event_type="payment_failed")
    assert all(r["fallback"] == [] for r in out)


def test_notification_id_is_deterministic_and_distinct():
    first = route(event("card_key_ready"), None, merchant(), T0, event_type="card_key_ready")
    again = route(event("card_key_ready"), None, merchant(), T0 + 999, event_type="card_key_ready")
    assert [r["notification_id"] for r in first] == [r["notification_id"] for r in again]
    a = notification_id("ev-1", "b-1", "email", "card_key_ready")
    assert a == notification_id("ev-1", "b-1", "email", "card_key_ready")
    assert a != notification_id("ev-2", "b-1", "email", "card_key_ready")
    assert a != notification_id("ev-1", "b-1", "sms", "card_key_ready")
    assert a != notification_id("ev-1", "b-1", "email", "payment_succeeded")
    assert a != notification_id("ev-1", "b-2", "email", "card_key_ready")


def test_unknown_event_type_is_unroutable():
    with pytest.raises(UnroutableEvent):
        route(event("marketing"), None, merchant(), T0, event_type="nonsense")
    with pytest.raises(UnroutableEvent):
        route(event("marketing"), None, merchant(), T0)  # plain dict, no .schema
    assert UnroutableEvent.retriable is False


def test_event_type_comes_from_a_decoded_record():
    from schemas.codec import decode, encode

    record = decode(encode("card_key_ready", event("card_key_ready")))
    assert {r["template"] for r in route(record, None, merchant(), T0)} == {"card_key_ready"}


def test_card_key_never_reaches_variables():
    ev = event("card_key_ready")
    ev["card_key"] = "XXXX-SECRET-KEY"  # a field a producer must never add
    for req in route(ev, None, merchant(), T0, event_type="card_key_ready"):
        assert "XXXX-SECRET-KEY" not in repr(req)
        assert req["variables"]["card_key_ref"] == "ck-ref-1"
        assert "card_key_url" not in req["variables"]  # minted at render time


@pytest.mark.parametrize("pref_locale, buyer_locale, merchant_locale, expected", [
    ("en-US", "zh-CN", "zh-CN", "en-US"),
    (None, "en-US", "zh-CN", "en-US"),
    (None, "", "en-US", "en-US"),
    (None, "", "", "zh-CN"),
])
def test_locale_precedence(pref_locale, buyer_locale, merchant_locale, expected):
    ev = event("payment_succeeded", envelope(buyer=buyer(locale=buyer_locale)))
    m = merchant(default_locale=merchant_locale or "zh-CN")
    m = m if merchant_locale else m.model_copy(update={"default_locale": ""})
    out = route(ev, prefs(locale=pref_locale), m, T0, event_type="payment_succeeded")
    assert {r["locale"] for r in out} == {expected}


@pytest.mark.parametrize("locale, currency, minor, amount", [
    ("zh-CN", "CNY", 8800, "¥88.00"),
    ("en-US", "CNY", 8800, "CN¥88.00"),
    ("en-US", "USD", 123456, "$1,234.56"),
    ("en-US", "JPY", 1500, "¥1,500"),
])
def test_amount_is_formatted_per_locale(locale, currency, minor, amount):
    ev = event("payment_succeeded", envelope(buyer=buyer(locale=locale), currency=currency,
                                             amount_minor=minor))
    out = route(ev, None, merchant(operator_emails=[]), T0, event_type="payment_succeeded")
    assert {r["variables"]["amount"] for r in out} == {amount}


def test_variables_cover_what_templates_need():
    out = route(event("payment_succeeded"), None, merchant(), T0, event_type="payment_succeeded")
    v = out[0]["variables"]
    assert v["order_no"] == "202405010001" and v["merchant_name"] == "Keyforge"
    assert v["product_name"] == "Steam Wallet 100" and v["occurred_at"] == "2024-05-01 20:30"
    assert all(isinstance(x, str) for x in v.values())


def test_marketing_sms_only_where_the_merchant_opted_in():
    ev = event("marketing")
    assert "sms" not in channels(route(ev, None, merchant(), T0, event_type="marketing"))
    out = route(ev, None, merchant(marketing_sms_enabled=True), T0, event_type="marketing")
    assert channels(out) == ALL3
    assert {r["variables"]["unsubscribe"] for r in out} == {"回复TD退订"}
    en = event("marketing", envelope(buyer=buyer(locale="en-US")))
    out = route(en, None, merchant(marketing_sms_enabled=True), T0, event_type="marketing")
    assert {r["variables"]["unsubscribe"] for r in out} == {"Reply STOP to unsubscribe"}
    opted = route(ev, prefs(opted_out_categories=["marketing"]),
                  merchant(marketing_sms_enabled=True), T0, event_type="marketing")
    assert opted == []


def test_marketing_sms_waits_for_quiet_hours_to_end():
    out = route(event("marketing"), prefs(quiet_hours={"start": "20:00", "end": "07:00"}),
                merchant(marketing_sms_enabled=True), QUIET_START, event_type="marketing")
    assert {r["channel"]: r["not_before"] for r in out} == dict.fromkeys(ALL3, QUIET_END)


@pytest.mark.parametrize("etype, kind, mirrored", [
    ("payment_succeeded", {}, True), ("card_key_ready", {}, True),
    ("account_security", {"kind": "FUNDS_CHANGE"}, False), ("marketing", {}, False),
])
def test_webhook_mirrors_transactions(etype, kind, mirrored):
    m = merchant(webhook_endpoint="shop-hook")
    out = route(event(etype, **kind), None, m, T0, event_type=etype)
    hooks = [r for r in out if r["channel"] == "webhook"]
    assert len(hooks) == (1 if mirrored else 0)
    for h in hooks:
        REGISTRY.validate("notification_request", h)
        assert h["address"] == "shop-hook" and h["role"] == "operator"


@pytest.mark.parametrize("last_recall, now, sent", [
    (None, T0, True),
    (T0 - 3600_000, T0, False),
    (T0 - 24 * 3600_000, T0, True),
])
@pytest.mark.parametrize("etype, kind", [("payment_failed", {}),
                                         ("order_exception", {"kind": "PAYMENT_FAILURE"})])
def test_payment_failure_recall_window(etype, kind, last_recall, now, sent):
    out = route(event(etype, **kind), None, merchant(), now, event_type=etype,
                last_recall_ms=last_recall)
    assert bool(out) is sent


def test_table_names_a_template_for_every_timer_and_operator_notice():
    assert {"payment_reminder", "logistics_delay", "operator_order_copy",
            "risk_alert"} <= set(all_templates())
    assert rule_for("refund", {"stage": "COMPLETED"}).template == "refund_completed"
