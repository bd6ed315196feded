"""Seeded, realistic sample traffic: coherent order journeys across several
merchants, zh-CN and en-US buyers, covering every lifecycle event type."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

MERCHANTS = ("m-1001", "m-1002", "m-1003")
PRODUCTS = (
    ("steam-50", "Steam Wallet 50 CNY", 5000, False),
    ("win11-pro", "Windows 11 Pro License", 19900, False),
    ("vip-month", "视频会员月卡", 2500, False),
    ("psn-100", "PSN 100 USD Card", 68000, True),
    ("office-365", "Microsoft 365 Family 1y", 39900, False),
    ("game-pass", "Xbox Game Pass 3 个月", 9900, False),
)
FAIL_CODES = ("card_declined", "insufficient_funds", "expired_card", "do_not_honor")


class _Gen:
    def __init__(self, seed: int, start_ms: int):
        self.rng = random.Random(seed)
        self.now = start_ms
        self.seq = 0

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def tick(self) -> int:
        self.now += self.rng.randint(5, 400)
        return self.now

    def buyer(self) -> dict[str, Any]:
        n = self.rng.randint(1, 400)
        zh = self.rng.random() < 0.5
        phone = (f"+86138{self.rng.randint(0, 99999999):08d}" if zh
                 else f"+1415555{self.rng.randint(0, 9999):04d}")
        return {
            "buyer_id": f"b-{n:05d}",
            "email": f"buyer{n:05d}@example.com",
            "phone": phone if self.rng.random() < 0.8 else None,
            "locale": "zh-CN" if zh else "en-US",
            "timezone": "Asia/Shanghai" if zh else "America/Los_Angeles",
        }

    def envelope(self, merchant: str, order_id: str | None, buyer: dict[str, Any],
                 amount: int = 0, ip: str | None = None) -> dict[str, Any]:
        return {
            "event_id": self.uid(), "occurred_at": self.tick(), "merchant_id": merchant,
            "order_id": order_id, "buyer": dict(buyer),
            "client_ip": ip or f"203.0.113.{self.rng.randint(1, 254)}",
            "amount_minor": amount, "currency": "CNY",
        }


def journey(g: _Gen, outcome: float | None = None, refund: bool | None = None
            ) -> Iterator[tuple[str, dict[str, Any]]]:
    """One order's life, ending in one of the typical outcomes."""
    merchant = g.rng.choice(MERCHANTS)
    buyer = g.buyer()
    sku, name, price, sensitive = g.rng.choice(PRODUCTS)
    qty = g.rng.choice((1, 1, 1, 2))
    g.seq += 1
    order = f"{merchant[2:]}{g.seq:08d}"
    ip = f"198.51.100.{g.rng.randint(1, 254)}"
    amount = price * qty

    def env() -> dict[str, Any]:
        return g.envelope(merchant, order, buyer, amount, ip)

    items = [{"sku": sku, "product_name": name, "quantity": qty, "sensitive": sensitive}]
    created = env()
    yield "order_created", {"envelope": created, "items": items,
                            "pay_by": created["occurred_at"] + 30 * 60_000}
    outcome = g.rng.random() if outcome is None else outcome
    if outcome < 0.15:
        yield "payment_failed", {"envelope": env(), "payment_method": "card",
                                 "failure_code": g.rng.choice(FAIL_CODES), "attempt": 1}
        if g.rng.random() < 0.5:
            yield "order_exception", {"envelope": env(), "kind": "CANCELLED",
                                      "detail": "payment not completed"}
        return
    if outcome < 0.22:
        yield "order_exception", {"envelope": env(), "kind": "OUT_OF_STOCK", "detail": sku}
        return
    yield "payment_succeeded", {"envelope": env(), "payment_method": g.rng.choice(
        ("alipay", "wechat_pay", "card")), "transaction_id": g.uid()[:18], "items": items}
    yield "card_key_ready", {"envelope": env(), "card_key_ref": f"ck_{g.uid()[:12]}",
                             "product_name": name, "quantity": qty}
    if refund if refund is not None else g.rng.random() < 0.1:
        back = {"envelope": env(), "refund_minor": amount, "reason": "buyer request"}
        yield "refund", {**back, "stage": "STARTED"}
        yield "refund", {**back, "envelope": env(), "stage": "COMPLETED"}


def extras(g: _Gen) -> Iterator[tuple[str, dict[str, Any]]]:
    """The event types that are not part of a normal journey, one of each."""
    merchant = g.rng.choice(MERCHANTS)
    buyer = g.buyer()
    order = f"{merchant[2:]}{g.seq + 1:08d}"
    g.seq += 1
    e = g.envelope
    yield "logistics_update", {"envelope": e(merchant, order, buyer), "carrier": "SF Express",
                               "status": "in_transit", "tracking_no": "SF1234567890"}
    yield "order_exception", {"envelope": e(merchant, order, buyer), "kind": "LOGISTICS_DELAY",
                              "detail": "carrier backlog"}
    yield "order_exception", {"envelope": e(merchant, order, buyer), "kind": "ADDRESS_INVALID",
                              "detail": "postcode missing"}
    yield "order_exception", {"envelope": e(merchant, order, buyer), "kind": "PAYMENT_FAILURE",
                              "detail": "gateway timeout"}
    yield "account_security", {"envelope": e(merchant, None, buyer), "kind": "NEW_DEVICE_LOGIN",
                               "device": "iPhone 15", "location": "Hangzhou",
                               "balance_minor": None}
    yield "account_security", {"envelope": e(merchant, None, buyer, 10000), "kind": "FUNDS_CHANGE",
                               "device": "", "location": "", "balance_minor": 52000}
    yield "system_announcement", {"envelope": e(merchant, None, buyer),
                                  "title": "Maintenance tonight",
                                  "body": "Checkout pauses 02:00-02:30 CST."}
    yield "marketing", {"envelope": e(merchant, None, buyer), "campaign_id": "double11",
                        "title": "Double 11 sale", "body": "20% off game cards",
                        "coupon_code": "D11-20"}


def sample_events(n: int, seed: int = 42, start_ms: int | None = None
                  ) -> list[tuple[str, dict[str, Any]]]:
    """n events in time order; every event type appears once n >= 20."""
    g = _Gen(seed, start_ms if start_ms is not None else int(time.time() * 1000))
    out: list[tuple[str, dict[str, Any]]] = []
    if n >= 20:  # a failed payment, a refunded order and the rare types first
        out += [*extras(g), *journey(g, outcome=0.0), *journey(g, outcome=0.5, refund=True)]
    while len(out) < n:
        out.extend(journey(g))
    return out[:n]
