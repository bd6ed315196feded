"""Known traffic for the fault tests: tagged sample journeys whose expected
notifications do not depend on the order the worker reads its topics in.

Refunds and cancellations are left out on purpose. They make an order's
earlier notifications stale (no card key after a refund, no payment-failure
recall after a cancel), and one order's events sit on different topics, so
after a rebalance or a restart the worker may read the refund first and
rightly drop the card-key notice that the in-order model still expects.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from schemas.codec import REGISTRY
from streams.sample import sample_events
from tests.integration.expect import tagged

ORDER_SENSITIVE = {("refund", None), ("order_exception", "CANCELLED")}


def steady_traffic(n: int, seed: int, tag: str | None = None) -> list[tuple[str, dict]]:
    """About `n` tagged sample events, none whose routing depends on arrival order.

    Phone numbers are drawn afresh per run: SMS without an order number (a
    security notice) would otherwise repeat, word for word and to the same
    number, what an earlier run with the same seed left in the shared moto."""
    tag = tag or uuid.uuid4().hex[:8]
    events = tagged(sample_events(n, seed=seed), tag)
    rng = random.Random(tag)
    phones: dict[str, str] = {}
    for _, data in events:
        buyer = data["envelope"]["buyer"]
        if buyer.get("phone"):
            buyer["phone"] = phones.setdefault(buyer["phone"],
                                               f"+86139{rng.randrange(10**8):08d}")
    return [(t, d) for t, d in events
            if (t, None) not in ORDER_SENSITIVE and (t, d.get("kind")) not in ORDER_SENSITIVE]


XSS = "<script>alert(1)</script>"
_ADDRESS_FIELDS = {"email", "phone"}  # kept valid: the notification must be deliverable


def with_html(event_type: str, data: dict) -> dict:
    """`data` with XSS appended to every string field of its Avro schema
    (ids, names, locale, time zone, currency, free text), except the buyer's
    email and phone. Enums and numbers stay as they are: the event stays valid."""
    return _inject(REGISTRY.schema(event_type), data, {}, None)


def _inject(schema: Any, value: Any, named: dict[str, Any], field: str | None) -> Any:
    if isinstance(schema, str):
        if schema == "string":
            return value if field in _ADDRESS_FIELDS else value + XSS
        return _inject(named[schema], value, named, field) if schema in named else value
    if isinstance(schema, list):  # union: the branch this value takes
        for branch in schema:
            kind = branch if isinstance(branch, str) else branch["type"]
            if (kind == "string" and isinstance(value, str)) or (
                    kind == "record" and isinstance(value, dict)):
                return _inject(branch, value, named, field)
        return value
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    if kind == "record":
        return {f["name"]: _inject(f["type"], value[f["name"]], named, f["name"])
                for f in schema["fields"] if f["name"] in value}
    if kind == "array":
        return [_inject(schema["items"], v, named, field) for v in value]
    if kind == "map":
        return {k: _inject(schema["values"], v, named, field) for k, v in value.items()}
    return _inject(kind, value, named, field)
