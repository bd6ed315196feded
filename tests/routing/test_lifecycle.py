"""Order state: facts in any order give the same state; stale notices are dropped."""

from __future__ import annotations

import itertools
import json

import pytest

from streams.routing.lifecycle import OrderState, apply, is_stale

from .factories import T0, envelope, event


def ev(etype, at_offset_ms=0, **fields):
    return etype, event(etype, envelope(occurred_at=T0 + at_offset_ms), **fields)


CREATED = ev("order_created")
PAID = ev("payment_succeeded", 60_000)
FAILED = ev("payment_failed", 30_000)
FULFILLED = ev("card_key_ready", 90_000)
REFUNDING = ev("refund", 120_000, stage="STARTED")
REFUNDED = ev("refund", 180_000, stage="COMPLETED")
CANCELLED = ev("order_exception", 120_000, kind="CANCELLED")
SHIPPED = ev("logistics_update", 100_000)
DELIVERED = ev("logistics_update", 200_000, status="Delivered")
DELAY = ev("order_exception", 150_000, kind="LOGISTICS_DELAY")


def fold(*events):
    state = None
    for etype, e in events:
        state = apply(state, e, etype)
    return state


@pytest.mark.parametrize("events, status", [
    ([CREATED], "created"),
    ([CREATED, FAILED], "failed"),
    ([CREATED, FAILED, PAID], "paid"),
    ([CREATED, PAID, FULFILLED], "fulfilled"),
    ([CREATED, PAID, FULFILLED, REFUNDING], "refunding"),
    ([CREATED, PAID, FULFILLED, REFUNDING, REFUNDED], "refunded"),
    ([CREATED, CANCELLED], "cancelled"),
    ([CREATED, PAID, CANCELLED, REFUNDED], "refunded"),
    ([PAID], "paid"),  # order_created never seen
])
def test_status(events, status):
    assert fold(*events).status == status


@pytest.mark.parametrize("events", [
    [CREATED, FAILED, PAID, FULFILLED, SHIPPED, REFUNDING],
    [CREATED, PAID, SHIPPED, DELAY, DELIVERED],
    [CREATED, PAID, CANCELLED, REFUNDED],
])
def test_any_arrival_order_gives_the_same_state(events):
    states = {json.dumps(fold(*perm).to_dict(), sort_keys=True)
              for perm in itertools.permutations(events)}
    assert len(states) == 1


def test_redelivery_is_a_no_op():
    once = fold(CREATED, PAID, FULFILLED)
    assert fold(CREATED, PAID, PAID, FULFILLED, CREATED) == once


def test_round_trips_through_a_dict():
    state = fold(CREATED, PAID, SHIPPED).with_recall(T0 + 5)
    data = json.loads(json.dumps(state.to_dict()))
    assert data["status"] == "paid"
    assert OrderState.from_dict(data) == state


def test_logistics_facts():
    state = fold(SHIPPED, DELAY)
    assert state.last_logistics_at == T0 + 100_000 and state.delay_notified_at == T0 + 150_000
    assert not state.shipment_final and fold(SHIPPED, DELIVERED).shipment_final


@pytest.mark.parametrize("template, events, now, stale", [
    ("card_key_ready", [CREATED, PAID], None, False),
    ("card_key_ready", [CREATED, PAID, REFUNDING], None, True),
    ("card_key_ready", [CREATED, PAID, REFUNDED], None, True),
    ("card_key_ready", [CREATED, CANCELLED], None, True),
    ("payment_reminder", [CREATED], T0 + 60_000, False),
    ("payment_reminder", [CREATED, PAID], T0, True),
    ("payment_reminder", [CREATED, CANCELLED], T0, True),
    ("payment_reminder", [CREATED, FAILED], T0, True),  # the recall email covers it
    ("payment_reminder", [CREATED], T0 + 30 * 60_000, True),  # pay-by passed
    ("payment_failed", [CREATED, FAILED], None, False),
    ("payment_failed", [CREATED, PAID], None, True),
    ("order_payment_failure", [CREATED, PAID, FULFILLED], None, True),
    ("logistics_delay", [CREATED, PAID, SHIPPED], None, False),
    ("logistics_delay", [CREATED, PAID, SHIPPED, DELAY], None, True),  # already told
    ("logistics_delay", [CREATED, PAID, DELIVERED], None, True),
    ("logistics_delay", [CREATED, PAID, SHIPPED, REFUNDED], None, True),
    ("order_out_of_stock", [CREATED, PAID], None, False),
    ("order_out_of_stock", [CREATED, PAID, REFUNDED], None, True),
    ("order_cancelled", [CREATED, CANCELLED], None, False),
    ("payment_succeeded", [CREATED, PAID, REFUNDED], None, False),
])
def test_is_stale(template, events, now, stale):
    assert is_stale(template, fold(*events), now) is stale


def test_nothing_is_stale_without_state():
    assert not is_stale("card_key_ready", None)
