"""Timed triggers: things to say when something did NOT happen in time.

- payment_reminder: ``payment_reminder_after_ms`` (15 min) after order_created,
  unless the order was paid, failed, cancelled or its pay-by time passed.
- logistics_delay: ``logistics_delay_after_ms`` (24 h) after the last
  logistics_update; each update re-arms it (same ``timer_id``, so storing the
  new timer replaces the old one).

Timers are due on event time (``occurred_at`` + delay), so a replay arms the
same timers. Staleness is decided when a timer fires, from the order state then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..merchants import MerchantConfig
from .config import DEFAULT_CONFIG, RoutingConfig, recall_allowed
from .lifecycle import FINAL_SHIPMENT, OrderState, is_stale
from .preferences import Preferences
from .rules import route

__all__ = ["Timer", "cancelled_timer_ids", "fire", "recall_allowed", "timer_id", "timers_for"]

PAYMENT_REMINDER, LOGISTICS_DELAY = "payment_reminder", "logistics_delay"


@dataclass(frozen=True)
class Timer:
    timer_id: str  # one live timer per (kind, order): arming again replaces it
    kind: str
    order_id: str
    due_ms: int
    armed_at: int  # occurred_at of the event that armed it
    event: dict  # the fields the notification needs, as an event of type ``kind``

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Timer:
        return cls(**{k: data[k] for k in
                      ("timer_id", "kind", "order_id", "due_ms", "armed_at", "event")})


def timer_id(kind: str, order_id: str) -> str:
    return f"{kind}:{order_id}"


def _arm(kind: str, event: Mapping, delay_ms: int, fields: tuple[str, ...]) -> Timer:
    env = event["envelope"]
    order_id, at = env["order_id"], env["occurred_at"]
    # a fresh event id per arming: a second delay notice after a new gap is not a duplicate
    slim_env = {**env, "event_id": f"{kind}:{order_id}:{at}"}
    slim = {"envelope": slim_env, **{f: event[f] for f in fields if f in event}}
    return Timer(timer_id(kind, order_id), kind, order_id, at + delay_ms, at, slim)


def timers_for(event: Mapping, config: RoutingConfig = DEFAULT_CONFIG, *,
               event_type: str | None = None) -> list[Timer]:
    """Timers to store (by ``timer_id``) after ``event``."""
    etype = event_type or getattr(event, "schema", "")
    if not event["envelope"].get("order_id"):
        return []
    if etype == "order_created":
        return [_arm(PAYMENT_REMINDER, event, config.payment_reminder_after_ms,
                     ("items", "pay_by"))]
    if etype == "logistics_update":
        if str(event.get("status", "")).strip().lower() in FINAL_SHIPMENT:
            return []
        return [_arm(LOGISTICS_DELAY, event, config.logistics_delay_after_ms,
                     ("carrier", "status", "tracking_no"))]
    return []


def cancelled_timer_ids(event: Mapping, *, event_type: str | None = None) -> list[str]:
    """Timers ``event`` makes pointless; deleting them early keeps the table small.
    (Firing one anyway is harmless: ``fire`` finds it stale.)"""
    etype = event_type or getattr(event, "schema", "")
    order_id = event["envelope"].get("order_id")
    if not order_id:
        return []
    kind = event.get("kind") or event.get("stage")
    out = []
    if etype in ("payment_succeeded", "payment_failed", "card_key_ready", "refund") or (
            etype == "order_exception" and kind in ("CANCELLED", "PAYMENT_FAILURE")):
        out.append(timer_id(PAYMENT_REMINDER, order_id))
    closed = (etype == "refund" and kind == "COMPLETED") or (
        etype == "order_exception" and kind == "CANCELLED")
    final = etype == "logistics_update" and (
        str(event.get("status", "")).strip().lower() in FINAL_SHIPMENT)
    if closed or final:
        out.append(timer_id(LOGISTICS_DELAY, order_id))
    return out


def fire(timer: Timer, state: OrderState | None, merchant: MerchantConfig,
         prefs: Preferences | None, now_ms: int) -> list[dict]:
    """Notification requests for a due timer; none when the order moved on."""
    if is_stale(timer.kind, state, now_ms):
        return []
    if state is not None and (state.last_logistics_at or 0) > timer.armed_at:
        return []  # a newer update re-armed it; this one is outdated
    return route(timer.event, prefs, merchant, now_ms, event_type=timer.kind)
