"""The bench's traffic: paid orders of buyers who left an email and no phone,
so every order event needs exactly one email (plus ordercast's in-app copy).

Order numbers are ``OC`` + 9 digits (what the fake provider looks for in a
subject); amounts stay under every merchant's operator-copy threshold and no
product is sensitive, so no operator email joins the count.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schemas.codec import REGISTRY

MERCHANTS = ("m-1001", "m-1002", "m-1003")
PRODUCTS = (  # sku, name, price (minor units); none sensitive, all under the thresholds
    ("steam-50", "Steam Wallet 50 CNY", 5000),
    ("win11-pro", "Windows 11 Pro License", 19900),
    ("vip-month", "视频会员月卡", 2500),
    ("game-pass", "Xbox Game Pass 3 个月", 9900),
)
METHODS = ("alipay", "wechat_pay", "card")
LIFECYCLE_TOPIC = "orders.payment-succeeded"  # catalog name, without prefix


def order_no(i: int) -> str:
    return f"OC{i:09d}"


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    key: bytes
    record: dict[str, Any]

    def encode(self, occurred_at: int | None = None) -> bytes:
        """Avro single-object bytes; ``occurred_at`` restamps the event (paced runs)."""
        record = self.record
        if occurred_at is not None:
            record = {**record, "envelope": {**record["envelope"], "occurred_at": occurred_at}}
        return REGISTRY.encode("payment_succeeded", record)


def payment_succeeded(i: int, rng: random.Random, occurred_at: int) -> OrderEvent:
    merchant = MERCHANTS[i % len(MERCHANTS)]
    sku, name, price = rng.choice(PRODUCTS)
    zh = rng.random() < 0.5
    order = order_no(i)
    record = {
        "envelope": {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "occurred_at": occurred_at,
            "merchant_id": merchant,
            "order_id": order,
            "buyer": {
                "buyer_id": f"b-{i:09d}",
                "email": f"buyer{i:09d}@example.com",
                "phone": None,
                "locale": "zh-CN" if zh else "en-US",
                "timezone": "Asia/Shanghai" if zh else "America/Los_Angeles",
            },
            "client_ip": f"198.51.100.{rng.randint(1, 254)}",
            "amount_minor": price,
            "currency": "CNY",
        },
        "payment_method": rng.choice(METHODS),
        "transaction_id": f"tx{rng.getrandbits(64):016x}",
        "items": [{"sku": sku, "product_name": name, "quantity": 1, "sensitive": False}],
    }
    return OrderEvent(order, order.encode(), record)


def order_events(n: int, first: int = 1, seed: int = 7,
                 occurred_at: int | None = None) -> list[OrderEvent]:
    """``n`` paid orders numbered from ``first``; the same seed gives the same events."""
    rng = random.Random(seed * 1_000_003 + first)
    at = occurred_at if occurred_at is not None else int(time.time() * 1000)
    return [payment_succeeded(i, rng, at) for i in range(first, first + n)]


def email_requests(events: list[OrderEvent]) -> Iterator[dict[str, Any]]:
    """The email ``notification_request`` ordercast's router makes of each event."""
    from schemas.codec import Record
    from streams import context
    from streams.routing import route

    merchants = context.merchants()
    now = int(time.time() * 1000)
    for ev in events:
        record = Record("payment_succeeded", ev.record)
        for request in route(record, None, merchants[ev.record["envelope"]["merchant_id"]], now):
            if request["channel"] == "email":
                yield request
