"""One call per lifecycle event: route it, drop what the order outgrew, move the
order state on, and say which timers to arm or delete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..merchants import MerchantConfig
from .config import DEFAULT_CONFIG, RoutingConfig
from .lifecycle import OrderState, apply, is_stale
from .preferences import Preferences
from .rules import route, rule_for
from .timers import Timer, cancelled_timer_ids, timers_for


@dataclass(frozen=True)
class Decision:
    state: OrderState | None  # store it back (None: the event has no order)
    requests: list[dict]  # notification_request dicts to produce
    timers: list[Timer] = field(default_factory=list)  # store by timer_id (replaces)
    cancel_timer_ids: list[str] = field(default_factory=list)  # delete these
    stale: list[dict] = field(default_factory=list)  # routed but dropped as outdated


def decide(event: Mapping, state: OrderState | None, prefs: Preferences | None,
           merchant: MerchantConfig, now_ms: int, *, event_type: str | None = None,
           recent_orders_by_buyer: int = 0,
           config: RoutingConfig = DEFAULT_CONFIG) -> Decision:
    etype = event_type or getattr(event, "schema", "")
    has_order = bool(event["envelope"].get("order_id"))
    routed = route(event, prefs, merchant, now_ms, event_type=etype,
                   recent_orders_by_buyer=recent_orders_by_buyer,
                   last_recall_ms=state.last_recall_at if state else None, config=config)
    # staleness is judged on what was known before this event
    stale = [r for r in routed if is_stale(r["template"], state)]
    requests = [r for r in routed if r not in stale]
    new_state = apply(state, event, etype) if has_order else None
    if new_state is not None and requests and rule_for(etype, event).recall:
        new_state = new_state.with_recall(now_ms)
    return Decision(new_state, requests, timers_for(event, config, event_type=etype),
                    cancelled_timer_ids(event, event_type=etype), stale)
