"""decide(): one event in, requests + next state + timers out."""

from __future__ import annotations

from streams.routing import decide, fallback_request, route

from .factories import T0, envelope, event, merchant

HOUR = 3_600_000


def run(history, now=T0):
    state, decisions = None, []
    for etype, e in history:
        d = decide(e, state, None, merchant(), now, event_type=etype)
        state = d.state
        decisions.append(d)
    return decisions


def test_card_key_after_a_refund_is_dropped():
    *_, last = run([("order_created", event("order_created")),
                    ("refund", event("refund", stage="COMPLETED")),
                    ("card_key_ready", event("card_key_ready"))])
    assert last.requests == [] and {r["template"] for r in last.stale} == {"card_key_ready"}
    assert last.state.status == "refunded"


def test_card_key_after_payment_goes_out():
    *_, last = run([("payment_succeeded", event("payment_succeeded")),
                    ("card_key_ready", event("card_key_ready"))])
    assert {r["channel"] for r in last.requests} == {"sms", "email", "inapp"}
    assert last.state.status == "fulfilled"


def test_one_payment_failure_recall_per_window():
    def failed(n, at):
        return "payment_failed", event("payment_failed", envelope(event_id=f"f{n}",
                                                                  occurred_at=at))
    state = None
    sent = []
    for n, now in enumerate([T0, T0 + HOUR, T0 + 25 * HOUR]):
        d = decide(failed(n, now)[1], state, None, merchant(), now, event_type="payment_failed")
        state = d.state
        sent.append(bool(d.requests))
    assert sent == [True, False, True]
    assert state.last_recall_at == T0 + 25 * HOUR


def test_created_arms_a_timer_and_payment_cancels_it():
    created, paid = run([("order_created", event("order_created")),
                         ("payment_succeeded", event("payment_succeeded"))])
    assert created.requests == [] and [t.kind for t in created.timers] == ["payment_reminder"]
    assert paid.cancel_timer_ids == ["payment_reminder:202405010001"]


def test_events_without_an_order_keep_no_state():
    (d,) = run([("marketing", event("marketing", envelope(order_id=None)))])
    assert d.state is None and d.requests and d.timers == []


def test_fallback_request_dedups_against_a_direct_route():
    out = {r["channel"]: r for r in route(event("card_key_ready"), None, merchant(), T0,
                                          event_type="card_key_ready")}
    fb = fallback_request(out["sms"], out["sms"]["fallback"][0])
    assert fb["notification_id"] == out["email"]["notification_id"]
    assert (fb["channel"], fb["fallback_of"], fb["fallback"]) == ("email", "sms", [])
