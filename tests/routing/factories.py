"""Valid lifecycle events (checked against the Avro schemas) for routing tests."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import REGISTRY
from streams.merchants import MerchantConfig
from streams.routing.preferences import Preferences

T0 = 1714566600000  # 2024-05-01 12:30 UTC = 20:30 in Shanghai


def ms(iso: str) -> int:
    """``"2024-05-01T12:30"`` (UTC) -> epoch millis."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def buyer(**over) -> dict:
    b = {"buyer_id": "b-1", "email": "buyer@mail.example", "phone": "+8613812345678",
         "locale": "zh-CN", "timezone": "Asia/Shanghai"}
    return {**b, **over}


def envelope(**over) -> dict:
    env = {"event_id": "ev-1", "occurred_at": T0, "merchant_id": "m-1", "order_id": "202405010001",
           "buyer": buyer(), "client_ip": "203.0.113.7", "amount_minor": 8800, "currency": "CNY"}
    return {**env, **over}


ITEM = {"sku": "SKU-1", "product_name": "Steam Wallet 100", "quantity": 1, "sensitive": False}

_FIELDS = {
    "order_created": {"items": [ITEM], "pay_by": T0 + 30 * 60_000},
    "payment_succeeded": {"payment_method": "alipay", "transaction_id": "tx-1", "items": [ITEM]},
    "payment_failed": {"payment_method": "card", "failure_code": "card_declined", "attempt": 1},
    "card_key_ready": {"card_key_ref": "ck-ref-1", "product_name": "Steam Wallet 100",
                       "quantity": 1},
    "refund": {"stage": "STARTED", "refund_minor": 8800, "reason": "buyer request"},
    "order_exception": {"kind": "OUT_OF_STOCK", "detail": ""},
    "logistics_update": {"carrier": "SF", "status": "in transit", "tracking_no": "SF123"},
    "account_security": {"kind": "NEW_DEVICE_LOGIN", "device": "iPhone", "location": "Shanghai",
                         "balance_minor": None},
    "system_announcement": {"title": "Maintenance", "body": "Offline 02:00-03:00"},
    "marketing": {"campaign_id": "c-1", "title": "Sale", "body": "20% off",
                  "coupon_code": "SALE20"},
}


def event(etype: str, env: dict | None = None, **fields) -> dict:
    ev = {"envelope": env or envelope(), **_FIELDS[etype], **fields}
    REGISTRY.validate(etype, ev)
    return ev


def merchant(**over) -> MerchantConfig:
    base = {"merchant_id": "m-1", "name": "Keyforge", "sender_email": "noreply@shop-1.example",
            "operator_emails": ["ops@shop-1.example"], "risk_contacts": ["risk@shop-1.example"],
            "amount_threshold_minor": 100000, "high_frequency_orders": 5,
            "sensitive_skus": ["SKU-HOT"]}
    return MerchantConfig(**{**base, **over})


def prefs(**over) -> Preferences:
    rec = {"recipient_id": "b-1", "locale": None, "timezone": None, "opted_out_categories": [],
           "opted_out_channels": [], "quiet_hours": None, "vip_tier": 0, "updated_at": T0}
    rec.update(over)
    REGISTRY.validate("preferences", rec)
    return Preferences.from_record(rec)


def channels(requests: list[dict], role: str = "buyer") -> set[str]:
    return {r["channel"] for r in requests if r["role"] == role}
