"""What we know about one order, to drop notifications the order has outgrown.

Lifecycle events come from separate topics, so one order's events can arrive in
any order. ``apply`` therefore only records *when* each fact happened (earliest
wins; re-applying is a no-op) and the status is derived from those facts by
precedence, so the same set of events gives the same state whatever the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

FINAL_SHIPMENT = frozenset({"delivered", "signed", "签收", "已签收"})

# status, by precedence: the first whose fact is known wins
_PRECEDENCE = (
    ("refunded", "refunded_at"),
    ("cancelled", "cancelled_at"),
    ("refunding", "refund_started_at"),
    ("fulfilled", "fulfilled_at"),
    ("paid", "paid_at"),
    ("failed", "failed_at"),
)


@dataclass(frozen=True)
class OrderState:
    order_id: str
    created_at: int | None = None
    pay_by: int | None = None
    paid_at: int | None = None
    failed_at: int | None = None
    fulfilled_at: int | None = None
    refund_started_at: int | None = None
    refunded_at: int | None = None
    cancelled_at: int | None = None
    last_logistics_at: int | None = None
    shipment_final: bool = False
    delay_notified_at: int | None = None
    last_recall_at: int | None = None

    @property
    def status(self) -> str:
        for status, attr in _PRECEDENCE:
            if getattr(self, attr) is not None:
                return status
        return "created"

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status}

    @classmethod
    def from_dict(cls, data: Mapping) -> OrderState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_recall(self, at_ms: int) -> OrderState:
        return replace(self, last_recall_at=at_ms)


def _first(current: int | None, at: int) -> int:
    return at if current is None else min(current, at)


def apply(state: OrderState | None, event: Mapping, event_type: str | None = None) -> OrderState:
    """The state after ``event``. ``event_type`` defaults to the Record's ``.schema``."""
    etype = event_type or getattr(event, "schema", "")
    env = event["envelope"]
    at = env["occurred_at"]
    s = state or OrderState(order_id=env.get("order_id") or "")
    kind = event.get("kind") or event.get("stage")
    if etype == "order_created":
        return replace(s, created_at=_first(s.created_at, at), pay_by=event.get("pay_by"))
    if etype == "payment_succeeded":
        return replace(s, paid_at=_first(s.paid_at, at))
    if etype == "payment_failed" or (etype == "order_exception" and kind == "PAYMENT_FAILURE"):
        return replace(s, failed_at=_first(s.failed_at, at))
    if etype == "card_key_ready":
        return replace(s, fulfilled_at=_first(s.fulfilled_at, at))
    if etype == "refund":
        if kind == "COMPLETED":
            return replace(s, refunded_at=_first(s.refunded_at, at))
        return replace(s, refund_started_at=_first(s.refund_started_at, at))
    if etype == "order_exception" and kind == "CANCELLED":
        return replace(s, cancelled_at=_first(s.cancelled_at, at))
    if etype == "order_exception" and kind == "LOGISTICS_DELAY":
        return replace(s, delay_notified_at=max(s.delay_notified_at or 0, at))
    if etype == "logistics_update":
        final = s.shipment_final or str(event.get("status", "")).strip().lower() in FINAL_SHIPMENT
        return replace(s, last_logistics_at=max(s.last_logistics_at or 0, at),
                       shipment_final=final)
    return s


_CLOSED = frozenset({"refunding", "refunded", "cancelled"})
_PAID = frozenset({"paid", "fulfilled"}) | _CLOSED


def is_stale(template: str, state: OrderState | None, now_ms: int | None = None) -> bool:
    """True when the order has moved past what ``template`` tells the buyer."""
    if state is None:
        return False
    status = state.status
    if template == "card_key_ready":
        return status in _CLOSED  # no goods after a refund or cancel
    if template == "payment_reminder":
        expired = now_ms is not None and state.pay_by is not None and now_ms >= state.pay_by
        return status != "created" or expired
    if template in ("payment_failed", "order_payment_failure"):
        return status in _PAID  # a late failed attempt after the order was paid
    if template == "logistics_delay":
        return (status in _CLOSED or state.shipment_final
                or (state.delay_notified_at or 0) >= (state.last_logistics_at or 0) > 0)
    if template in ("order_out_of_stock", "order_address_invalid"):
        return status in ("refunded", "cancelled")
    return False
