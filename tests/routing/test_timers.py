"""Timed triggers: arming, re-arming, firing, staleness, the recall window."""

from __future__ import annotations

import json

import pytest

from schemas.codec import REGISTRY
from streams.routing import RoutingConfig, Timer, cancelled_timer_ids, fire, timers_for
from streams.routing.lifecycle import apply
from streams.routing.timers import recall_allowed

from .factories import T0, channels, envelope, event, merchant

MIN = 60_000
HOUR = 60 * MIN


def state_of(*pairs):
    state = None
    for etype, e in pairs:
        state = apply(state, e, etype)
    return state


def test_order_created_arms_a_payment_reminder():
    (timer,) = timers_for(event("order_created"), event_type="order_created")
    assert (timer.kind, timer.order_id, timer.due_ms) == (
        "payment_reminder", "202405010001", T0 + 15 * MIN)
    assert timer.timer_id == "payment_reminder:202405010001"
    cfg = RoutingConfig(payment_reminder_after_ms=5 * MIN)
    assert timers_for(event("order_created"), cfg, event_type="order_created")[0].due_ms == (
        T0 + 5 * MIN)


def test_each_logistics_update_rearms_the_same_timer_later():
    first = timers_for(event("logistics_update"), event_type="logistics_update")[0]
    later = event("logistics_update", envelope(occurred_at=T0 + 3 * HOUR, event_id="ev-2"))
    second = timers_for(later, event_type="logistics_update")[0]
    assert first.timer_id == second.timer_id == "logistics_delay:202405010001"
    assert (first.due_ms, second.due_ms) == (T0 + 24 * HOUR, T0 + 27 * HOUR)
    assert first.event["envelope"]["event_id"] != second.event["envelope"]["event_id"]


@pytest.mark.parametrize("etype, fields, env", [
    ("logistics_update", {"status": "DELIVERED"}, {}),
    ("logistics_update", {"status": "已签收"}, {}),
    ("order_created", {}, {"order_id": None}),
    ("payment_succeeded", {}, {}),
    ("marketing", {}, {}),
])
def test_events_that_arm_nothing(etype, fields, env):
    assert timers_for(event(etype, envelope(**env), **fields), event_type=etype) == []


def test_timer_round_trips_through_json():
    (timer,) = timers_for(event("order_created"), event_type="order_created")
    assert Timer.from_dict(json.loads(json.dumps(timer.to_dict()))) == timer


@pytest.mark.parametrize("etype, fields, ids", [
    ("payment_succeeded", {}, ["payment_reminder:202405010001"]),
    ("order_exception", {"kind": "CANCELLED"},
     ["payment_reminder:202405010001", "logistics_delay:202405010001"]),
    ("refund", {"stage": "COMPLETED"},
     ["payment_reminder:202405010001", "logistics_delay:202405010001"]),
    ("logistics_update", {"status": "delivered"}, ["logistics_delay:202405010001"]),
    ("logistics_update", {}, []),
    ("order_created", {}, []),
])
def test_cancelled_timer_ids(etype, fields, ids):
    assert cancelled_timer_ids(event(etype, **fields), event_type=etype) == ids


CREATED = ("order_created", event("order_created"))
PAID = ("payment_succeeded", event("payment_succeeded", envelope(occurred_at=T0 + MIN)))
CANCELLED = ("order_exception", event("order_exception", kind="CANCELLED"))
SHIPPED = ("logistics_update", event("logistics_update"))
NEWER = ("logistics_update", event("logistics_update", envelope(occurred_at=T0 + HOUR)))
REFUNDED = ("refund", event("refund", stage="COMPLETED"))


def _reminder():
    return timers_for(CREATED[1], event_type="order_created")[0]


def _delay():
    return timers_for(SHIPPED[1], event_type="logistics_update")[0]


@pytest.mark.parametrize("make, history, now, fires", [
    (_reminder, [CREATED], T0 + 15 * MIN, True),
    (_reminder, [CREATED, PAID], T0 + 15 * MIN, False),
    (_reminder, [CREATED, CANCELLED], T0 + 15 * MIN, False),
    (_reminder, [CREATED], T0 + 31 * MIN, False),  # past pay_by (30 min)
    (_reminder, [], T0 + 15 * MIN, True),  # no state: nothing says it is stale
    (_delay, [CREATED, PAID, SHIPPED], T0 + 24 * HOUR, True),
    (_delay, [CREATED, PAID, SHIPPED, NEWER], T0 + 24 * HOUR, False),  # outdated timer
    (_delay, [CREATED, PAID, SHIPPED, REFUNDED], T0 + 24 * HOUR, False),
])
def test_fire(make, history, now, fires):
    out = fire(make(), state_of(*history), merchant(), None, now)
    assert bool(out) is fires
    for req in out:
        REGISTRY.validate("notification_request", req)


def test_fired_reminder_is_an_important_transaction_notice():
    out = fire(_reminder(), state_of(CREATED), merchant(), None, T0 + 15 * MIN)
    assert channels(out) == {"email", "inapp"}
    req = out[0]
    assert (req["template"], req["event_type"], req["priority"]) == (
        "payment_reminder", "payment_reminder", "important")
    assert req["variables"]["pay_by"] == "2024-05-01 21:00"
    assert req["variables"]["product_name"] == "Steam Wallet 100"
    assert req["event_id"] == f"payment_reminder:202405010001:{T0}"


def test_fired_delay_notice_names_the_carrier():
    out = fire(_delay(), state_of(SHIPPED), merchant(), None, T0 + 24 * HOUR)
    assert {r["template"] for r in out} == {"logistics_delay"}
    assert out[0]["variables"]["tracking_no"] == "SF123"


@pytest.mark.parametrize("last, now, window, allowed", [
    (None, T0, 24 * HOUR, True),
    (T0, T0, 24 * HOUR, False),
    (T0 - 24 * HOUR + 1, T0, 24 * HOUR, False),
    (T0 - 24 * HOUR, T0, 24 * HOUR, True),
    (T0 - HOUR, T0, HOUR, True),
])
def test_recall_allowed(last, now, window, allowed):
    assert recall_allowed(last, now, window) is allowed
