"""A buyer placing many paid orders within an hour is copied to the merchant's
operators, whatever partitions the orders arrived on."""

from __future__ import annotations

import copy
import uuid

import pytest

from schemas.codec import REGISTRY
from streams.catalog import channel_topic
from streams.sample import sample_events
from tests.integration.expect import MERCHANTS, publish_events, tagged
from tests.support import read_all, wait_for

pytestmark = pytest.mark.broker


def test_high_frequency_buyer_is_copied_to_operators(prefix, worker_factory):
    merchant = MERCHANTS["m-1001"]
    limit = merchant.high_frequency_orders
    assert limit >= 2
    tag = uuid.uuid4().hex[:8]
    paid = [copy.deepcopy(d) for t, d in tagged(sample_events(300, seed=71), tag)
            if t == "payment_succeeded"][:limit]
    for d in paid:
        d["envelope"].update(merchant_id="m-1001", amount_minor=100)
        d["envelope"]["buyer"]["buyer_id"] = f"b-{tag}"
        for item in d["items"]:
            item["sensitive"] = False
            item["sku"] = "plain"
    assert len({d["envelope"]["order_id"] for d in paid}) == limit
    worker_factory()
    publish_events(prefix, [("payment_succeeded", d) for d in paid[:-1]])

    def copies():
        out = []
        for msg in read_all(f"{prefix}{channel_topic('email')}"):
            r = REGISTRY.decode(msg.value())
            if r["template"] == "operator_order_copy" and "high_frequency" in r[
                    "variables"].get("reason_codes", ""):
                out.append(r)
        return out

    wait_for(lambda: len(read_all(f"{prefix}{channel_topic('email')}")) >= limit - 1, 60,
             message="the first orders routed")
    assert copies() == []
    publish_events(prefix, [("payment_succeeded", paid[-1])])
    got = wait_for(copies, 60, message="the high-frequency operator copy")
    assert {r["address"] for r in got} == set(merchant.operator_emails)
    assert {r["order_id"] for r in got} == {paid[-1]["envelope"]["order_id"]}
