"""Routing: lifecycle events in, notification requests out. Pure functions only;
the stream agents call them and own every side effect."""

from .config import DEFAULT_CONFIG, RoutingConfig, recall_allowed
from .decide import Decision, decide
from .lifecycle import OrderState, apply, is_stale
from .operators import risk_alert_requests
from .preferences import Preferences
from .request import fallback_request, notification_id
from .rules import RULES, Rule, UnroutableEvent, all_templates, route, rule_for
from .timers import Timer, cancelled_timer_ids, fire, timers_for

__all__ = [
    "DEFAULT_CONFIG", "RULES", "Decision", "OrderState", "Preferences", "RoutingConfig",
    "Rule", "Timer", "UnroutableEvent", "all_templates", "apply", "cancelled_timer_ids",
    "decide", "fallback_request", "fire", "is_stale", "notification_id", "recall_allowed",
    "risk_alert_requests", "route", "rule_for", "timers_for",
]
