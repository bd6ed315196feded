"""High-frequency buyers: paid orders repartitioned by (merchant, buyer) and
counted over the last hour, so operators hear about a buyer who places more
orders than the merchant's `high_frequency_orders` allows, whichever partition
each order arrived on."""

from __future__ import annotations

from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import context, metrics, state
from .app import app
from .catalog import BY_BUYER, channel_topic
from .clock import now_ms
from .routing import rule_for
from .routing.operators import operator_copies
from .wire import lifecycle_topic, raw_topic

HOUR_MS = 3_600_000



paid = lifecycle_topic("payment_succeeded")
by_buyer = raw_topic(BY_BUYER)
email_topic = raw_topic(channel_topic("email"))
recent = app.Table("buyer-orders", default=None,
                   help="merchant:buyer -> [partition, [[order ms, order id], ...]] (last hour)")


@app.agent(paid, name="streams.buyers.buyer_split")
async def buyer_split(stream):
    async for event in stream.events():
        try:
            record = REGISTRY.decode(event.value, expect="payment_succeeded")
        except DecodeError:
            continue  # the router dead-letters it
        env = record["envelope"]
        if context.merchants()[env["merchant_id"]].high_frequency_orders:
            key = f"{env['merchant_id']}:{env['buyer']['buyer_id']}".encode()
            await by_buyer.send(key=key, value=event.value)


def count_recent(orders: list[list], at: int, order_id: str, limit: int) -> list[list]:
    """[time, order id] pairs within the hour before the newest order, this one
    included once (a redelivered or replayed order is not counted again); bounded.
    Orders arrive from several partitions, so not in time order."""
    if any(seen == order_id for _, seen in orders):
        return orders
    newest = max(at, *(t for t, _ in orders)) if orders else at
    kept = sorted(o for o in [*orders, [at, order_id]] if newest - HOUR_MS < o[0])
    return kept[-max(limit * 2, 1):]


@app.agent(by_buyer, name="streams.buyers.buyer_count")
async def buyer_count(stream):
    async for event in stream.events():
        record = REGISTRY.decode(event.value, expect="payment_succeeded")
        env = record["envelope"]
        merchant = context.merchants()[env["merchant_id"]]
        key = event.key.decode()
        _, before = recent.get(key) or [None, []]
        orders = count_recent(before, env["occurred_at"], env.get("order_id") or env["event_id"],
                              merchant.high_frequency_orders)
        if orders is before:
            continue  # this order was counted already
        recent[key] = [event.message.partition, orders]
        if len(orders) < merchant.high_frequency_orders:
            continue
        # only the frequency reason here; amount and sensitive copies come from the router
        plain = merchant.model_copy(update={"amount_threshold_minor": None,
                                            "sensitive_skus": frozenset()})
        event_copy = {**record, "items": [],
                      "envelope": {**env, "event_id": f"{env['event_id']}:high-frequency"}}
        for request in operator_copies("payment_succeeded", event_copy, plain, len(orders),
                                       rule_for("operator_order_copy", {})):
            await email_topic.send(key=(env.get("order_id") or key).encode(),
                                   value=REGISTRY.encode("notification_request", request,
                                                         check=False))
            metrics.ROUTED.labels(request["template"], request["category"],
                                  request["priority"], request["channel"]).inc()


@app.timer(interval=300.0)
async def expire_buyers() -> None:
    cutoff = now_ms() - 2 * HOUR_MS
    async for key, value in state.entries(recent):
        if not value[1] or value[1][-1][0] < cutoff:
            state.drop(recent, value[0], key)
