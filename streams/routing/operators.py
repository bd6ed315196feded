"""Operator copies: orders the merchant's operators want to see, and risk alerts.

A paid order is copied to the operators' email when any of these hold:
- its amount is above the merchant's ``amount_threshold_minor``;
- the buyer's orders within the last hour (``recent_orders_by_buyer``, counted
  by the caller, this order included) reach ``high_frequency_orders``;
- a line item is flagged ``sensitive`` or its SKU is in ``sensitive_skus``.
Operators read in the merchant's default locale and time zone.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING

from channels.pii import mask_email

from ..merchants import MerchantConfig
from .request import Route, build_request
from .variables import format_amount, local_time, variables_for

if TYPE_CHECKING:
    from .rules import Rule

_REASONS = {
    "zh": {"amount": "金额 {amount} 超过阈值 {threshold}",
           "high_frequency": "该买家1小时内第 {count} 笔订单",
           "sensitive": "敏感商品: {products}"},
    "en": {"amount": "amount {amount} is above the threshold of {threshold}",
           "high_frequency": "order {count} from this buyer within an hour",
           "sensitive": "sensitive product: {products}"},
}


def operator_id(merchant_id: str, email: str) -> str:
    """Stable recipient id that does not spell out the address."""
    return f"operator:{merchant_id}:{hashlib.sha256(email.lower().encode()).hexdigest()[:12]}"


def copy_reasons(event: Mapping, merchant: MerchantConfig, recent_orders_by_buyer: int) -> dict:
    """Reason code -> format arguments, for each rule the order trips."""
    env = event["envelope"]
    reasons: dict[str, dict] = {}
    threshold = merchant.amount_threshold_minor
    if threshold is not None and (env.get("amount_minor") or 0) > threshold:
        reasons["amount"] = {"threshold_minor": threshold}
    limit = merchant.high_frequency_orders
    if limit and recent_orders_by_buyer >= limit:
        reasons["high_frequency"] = {"count": recent_orders_by_buyer}
    flagged = [i["product_name"] for i in event.get("items") or ()
               if i.get("sensitive") or i.get("sku") in merchant.sensitive_skus]
    if flagged:
        reasons["sensitive"] = {"products": ", ".join(flagged)}
    return reasons


def operator_copies(event_type: str, event: Mapping, merchant: MerchantConfig,
                    recent_orders_by_buyer: int, rule: Rule) -> list[dict]:
    reasons = copy_reasons(event, merchant, recent_orders_by_buyer)
    if not reasons or not merchant.operator_emails or rule.template is None:
        return []
    env = event["envelope"]
    locale, tz = merchant.default_locale, merchant.timezone
    currency = env.get("currency") or "CNY"
    texts = _REASONS["zh" if locale.startswith("zh") else "en"]
    lines = []
    for code, args in reasons.items():
        if "threshold_minor" in args:
            args = {"threshold": format_amount(args["threshold_minor"], currency, locale),
                    "amount": format_amount(env.get("amount_minor") or 0, currency, locale)}
        lines.append(texts[code].format(**args))
    variables = variables_for(event_type, event, merchant, locale, tz)
    variables.update(reason="; ".join(lines), reason_codes=",".join(reasons),
                     buyer_id=env["buyer"]["buyer_id"])
    return [
        build_request(event_id=env["event_id"], event_type=event_type,
                      occurred_at=env["occurred_at"], merchant_id=env["merchant_id"],
                      order_id=env.get("order_id"), template=rule.template,
                      category=rule.category, priority=rule.priority,
                      route=Route("email", str(email)),
                      recipient_id=operator_id(env["merchant_id"], str(email)),
                      role="operator", locale=locale, timezone=tz, variables=variables)
        for email in merchant.operator_emails
    ]


def mask_key(key_type: str, value: str) -> str:
    """``203.0.113.7`` -> ``203.0.113.*``; emails as in logs."""
    if key_type == "email":
        return mask_email(value)
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value[:2] + "***"
    if ip.version == 4:
        return ".".join(str(ip).split(".")[:3] + ["*"])
    return ":".join(ip.exploded.split(":")[:3]) + ":*"


def risk_alert_requests(alert: Mapping, merchant: MerchantConfig) -> list[dict]:
    """Emails about one ``risk_alert`` record to the merchant's risk contacts
    (its operators when it has none). The key is masked; the topic has it whole."""
    from .rules import RULES  # rules imports this module

    rule = RULES[("risk_alert", None)]
    assert rule.template is not None
    to = merchant.risk_contacts or merchant.operator_emails
    locale, tz = merchant.default_locale, merchant.timezone
    variables = {
        "merchant_name": merchant.name,
        "rule": alert["rule"],
        "key_type": alert["key_type"],
        "key": mask_key(alert["key_type"], alert["key_value"]),
        "count": str(alert["count"]),
        "threshold": str(alert["threshold"]),
        "severity": alert["severity"],
        "window_start": local_time(alert["window_start"], tz),
        "window_end": local_time(alert["window_end"], tz),
        "window_minutes": str(max(1, (alert["window_end"] - alert["window_start"]) // 60_000)),
        "sample_orders": ", ".join(alert.get("sample_order_ids") or ()),
    }
    return [
        build_request(event_id=alert["alert_id"], event_type="risk_alert",
                      occurred_at=alert["raised_at"], merchant_id=merchant.merchant_id,
                      order_id=None, template=rule.template, category=rule.category,
                      priority=rule.priority, route=Route("email", str(email)),
                      recipient_id=operator_id(merchant.merchant_id, str(email)),
                      role="operator", locale=locale, timezone=tz, variables=variables)
        for email in to
    ]
