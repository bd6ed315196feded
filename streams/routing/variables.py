"""Template variables for a notification: strings only, from a whitelist of event
fields. An unknown or future event field (say, a card key) never reaches a
template because nothing here copies fields wholesale."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision

from ..merchants import MerchantConfig

# Plain event fields each event type passes through as they are.
FIELDS: dict[str, tuple[str, ...]] = {
    "order_created": (),
    "payment_reminder": (),
    "payment_succeeded": ("payment_method",),
    "payment_failed": ("payment_method", "failure_code"),
    "card_key_ready": ("card_key_ref", "product_name", "quantity"),
    "refund": ("reason",),
    # LOGISTICS_DELAY shares its template with the timer: both give both sets
    "order_exception": ("detail", "carrier", "tracking_no", "status"),
    "logistics_update": ("carrier", "status", "tracking_no"),
    "logistics_delay": ("carrier", "status", "tracking_no", "detail"),
    "account_security": ("device", "location"),
    "system_announcement": ("title", "body"),
    "marketing": ("title", "body", "coupon_code"),
}


@lru_cache(maxsize=64)  # babel loads locale data on every parse
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("zh_CN")


def format_amount(minor: int, currency: str, locale: str) -> str:
    """``12345, "CNY", "zh-CN"`` -> ``¥123.45``; ``"en-US"`` -> ``CN¥123.45``."""
    try:
        digits = get_currency_precision(currency)
    except Exception:  # unknown code: babel's own default is 2
        digits = 2
    value = Decimal(minor).scaleb(-digits)
    return format_currency(value, currency, locale=_babel_locale(locale))


def local_time(ms: int, tz: str) -> str:
    """Epoch millis as the recipient's wall-clock time, ``2024-05-01 20:30``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(tz)).strftime(
        "%Y-%m-%d %H:%M"
    )


def product_summary(items: list[Mapping], locale: str) -> str:
    if not items:
        return ""
    first = str(items[0].get("product_name", ""))
    more = len(items) - 1
    if more == 0:
        return first
    return f"{first} 等{len(items)}件" if locale.startswith("zh") else f"{first} and {more} more"


def variables_for(
    event_type: str, event: Mapping, merchant: MerchantConfig, locale: str, tz: str
) -> dict[str, str]:
    env = event["envelope"]
    currency = env.get("currency") or "CNY"
    out = {
        "merchant_name": merchant.name,
        "order_no": env.get("order_id") or "",
        "amount": format_amount(env.get("amount_minor") or 0, currency, locale),
        "occurred_at": local_time(env["occurred_at"], tz),
    }
    for name in FIELDS.get(event_type, ()):
        value = event.get(name)
        out[name] = "" if value is None else str(value)
    if "items" in event and "product_name" not in out:
        out["product_name"] = product_summary(event["items"], locale)
    if event.get("pay_by") is not None:
        out["pay_by"] = local_time(event["pay_by"], tz)
    if event.get("refund_minor") is not None:
        out["refund_amount"] = format_amount(event["refund_minor"], currency, locale)
    if "balance_minor" in event:
        balance = event["balance_minor"]
        out["balance"] = "" if balance is None else format_amount(balance, currency, locale)
    return out
