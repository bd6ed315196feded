"""The notification matrix: which event notifies whom, how urgently, on what.

Channels by priority (each only where the recipient has that contact:
phone -> sms, email -> email, buyer id -> in-app):

    urgent     sms + email + inapp   (urgent also carries fallbacks: sms <-> email)
    important  email + inapp         (+ sms for VIP buyers, vip_tier >= 1, on transactions)
    normal     inapp + email         never sms; marketing sms only where the merchant
                                     opted in (marketing_sms_enabled), with an unsubscribe line

Preferences then narrow this (see preferences.py). Rows without a template
notify nobody at once; they only drive timers (see timers.py). Merchants with a
webhook endpoint also get every transaction notification on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..merchants import MerchantConfig
from .config import DEFAULT_CONFIG, RoutingConfig, recall_allowed
from .operators import operator_copies
from .preferences import (
    NO_PREFERENCES,
    Preferences,
    allowed_routes,
    fallbacks_for,
    resolve_locale,
    resolve_timezone,
    unsubscribe_line,
)
from .request import Route, build_request, notification_id
from .variables import variables_for

__all__ = ["RULES", "Rule", "UnroutableEvent", "notification_id", "route", "rule_for"]

TX, SEC, SYS, MKT = "transaction", "account_security", "system", "marketing"
URGENT, IMPORTANT, NORMAL = "urgent", "important", "normal"
BUYER, OPERATORS = "buyer", "operators"

CHANNELS_BY_PRIORITY = {URGENT: ("sms", "email", "inapp"), IMPORTANT: ("email", "inapp"),
                        NORMAL: ("inapp", "email")}


@dataclass(frozen=True)
class Rule:
    template: str | None  # None: no immediate notification
    category: str
    priority: str
    recipients: tuple[str, ...] = (BUYER,)
    recall: bool = False  # a payment-failure recall: one per order per window


B, BO, OPS = (BUYER,), (BUYER, OPERATORS), (OPERATORS,)  # recipients
_ROWS = [
    # event type           sub-kind            template                     cat. priority   to
    # -- orders: order_created only arms payment_reminder; logistics_update re-arms
    #    logistics_delay (timers.py); neither notifies at once
    ("order_created",       None,               None,                        TX,  NORMAL,    ()),
    ("payment_succeeded",   None,               "payment_succeeded",         TX,  URGENT,    BO),
    ("payment_failed",      None,               "payment_failed",            TX,  IMPORTANT, B),
    ("card_key_ready",      None,               "card_key_ready",            TX,  URGENT,    B),
    ("refund",              "STARTED",          "refund_started",            TX,  IMPORTANT, B),
    ("refund",              "COMPLETED",        "refund_completed",          TX,  IMPORTANT, B),
    ("order_exception",     "OUT_OF_STOCK",     "order_out_of_stock",        TX,  URGENT,    B),
    ("order_exception",     "PAYMENT_FAILURE",  "order_payment_failure",     TX,  IMPORTANT, B),
    ("order_exception",     "LOGISTICS_DELAY",  "logistics_delay",           TX,  IMPORTANT, B),
    ("order_exception",     "CANCELLED",        "order_cancelled",           TX,  URGENT,    B),
    ("order_exception",     "ADDRESS_INVALID",  "order_address_invalid",     TX,  IMPORTANT, B),
    ("logistics_update",    None,               None,                        TX,  NORMAL,    ()),
    # -- account security
    ("account_security",    "NEW_DEVICE_LOGIN", "security_new_device",       SEC, URGENT,    B),
    ("account_security",    "FUNDS_CHANGE",     "security_funds_change",     SEC, URGENT,    B),
    ("account_security",    "PASSWORD_CHANGED", "security_password_changed", SEC, URGENT,    B),
    # -- shop to buyers
    ("system_announcement", None,               "system_announcement",       SYS, NORMAL,    B),
    ("marketing",           None,               "marketing",                 MKT, NORMAL,    B),
    # -- timed triggers (timers.py), not schemas
    ("payment_reminder",    None,               "payment_reminder",          TX,  IMPORTANT, B),
    ("logistics_delay",     None,               "logistics_delay",           TX,  IMPORTANT, B),
    # -- operators only (operators.py)
    ("operator_order_copy", None,               "operator_order_copy",       TX,  IMPORTANT, OPS),
    ("risk_alert",          None,               "risk_alert",                SEC, URGENT,    OPS),
]
# payment-failure recalls: at most one per order per RoutingConfig.recall_window_ms
RECALLS = {("payment_failed", None), ("order_exception", "PAYMENT_FAILURE")}

RULES: dict[tuple[str, str | None], Rule] = {
    (etype, kind): Rule(template, category, priority, to, recall=(etype, kind) in RECALLS)
    for etype, kind, template, category, priority, to in _ROWS
}


class UnroutableEvent(ValueError):
    """The event type or sub-kind is not in the table. Not retriable."""

    retriable = False


def all_templates() -> list[str]:
    return sorted({r.template for r in RULES.values() if r.template})


def rule_for(event_type: str, event: Mapping) -> Rule:
    kind = event.get("kind") or event.get("stage")
    rule = RULES.get((event_type, kind)) or RULES.get((event_type, None))
    if rule is None:
        raise UnroutableEvent(f"no routing rule for {event_type}/{kind}")
    return rule


def _wanted_channels(rule: Rule, prefs: Preferences, merchant: MerchantConfig) -> list[str]:
    wanted = list(CHANNELS_BY_PRIORITY[rule.priority])
    if rule.priority == IMPORTANT and rule.category == TX and prefs.vip_tier >= 1:
        wanted.insert(0, "sms")
    if rule.category == MKT and merchant.marketing_sms_enabled:
        wanted.append("sms")
    return wanted


def _contact(buyer: Mapping, channel: str) -> str | None:
    return {"sms": buyer.get("phone"), "email": buyer.get("email"),
            "inapp": buyer.get("buyer_id")}.get(channel) or None


def route(event: Mapping, prefs: Preferences | None, merchant: MerchantConfig, now_ms: int, *,
          event_type: str | None = None, recent_orders_by_buyer: int = 0,
          last_recall_ms: int | None = None,
          config: RoutingConfig = DEFAULT_CONFIG) -> list[dict]:
    """Every notification request one event produces. ``event_type`` defaults to
    the decoded Record's ``.schema``. For payment-failure recalls pass the time of
    the order's last recall (``last_recall_ms``); none is routed within the window."""
    etype = event_type or getattr(event, "schema", None)
    if not etype:
        raise UnroutableEvent("event type unknown: pass event_type= for a plain dict")
    rule = rule_for(etype, event)
    if rule.template is None:
        return []
    if rule.recall and not recall_allowed(last_recall_ms, now_ms, config.recall_window_ms):
        return []
    prefs = prefs or NO_PREFERENCES
    env, buyer = event["envelope"], event["envelope"]["buyer"]
    locale = resolve_locale(prefs, buyer.get("locale"), merchant)
    tz = resolve_timezone(prefs, buyer.get("timezone"))
    variables = variables_for(etype, event, merchant, locale, tz)
    if rule.category == MKT:
        variables["unsubscribe"] = unsubscribe_line(locale)
    common = dict(event_id=env["event_id"], event_type=etype, occurred_at=env["occurred_at"],
                  merchant_id=env["merchant_id"], order_id=env.get("order_id"),
                  template=rule.template, category=rule.category, priority=rule.priority)
    out: list[dict] = []
    if BUYER in rule.recipients:
        reachable = [Route(ch, addr) for ch in _wanted_channels(rule, prefs, merchant)
                     if (addr := _contact(buyer, ch))]
        for r in allowed_routes(rule.template, rule.category, rule.priority, reachable,
                                prefs, now_ms, tz):
            fallback = fallbacks_for(r, reachable, prefs) if rule.priority == URGENT else []
            out.append(build_request(**common, route=r, recipient_id=buyer["buyer_id"],
                                     role="buyer", locale=locale, timezone=tz,
                                     variables=variables, fallback=fallback))
        if rule.category == TX and merchant.webhook_endpoint:
            out.append(build_request(**common, route=Route("webhook", merchant.webhook_endpoint),
                                     recipient_id=f"webhook:{env['merchant_id']}",
                                     role="operator", locale=locale, timezone=tz,
                                     variables=variables))
    if OPERATORS in rule.recipients:
        out.extend(operator_copies(etype, event, merchant, recent_orders_by_buyer,
                                   RULES[("operator_order_copy", None)]))
    return out
