"""The in-app inbox: ``inbox_item`` records on the inbox topic, materialised
into a table keyed by recipient id (newest first, bounded), served by the
worker's web server (``streams.web``).

The table's changelog partition for a recipient is the inbox topic's partition
for that recipient: the topic is keyed by recipient id with Kafka's default
(murmur2) partitioner, which is what the in-app channel's producer uses. Web
requests find the owning worker with the same hash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from faust.types import EventT

from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import dispatch, outbox, state
from .app import app
from .catalog import BY_NAME, INBOX
from .clock import now_ms
from .wire import raw_topic

log = logging.getLogger(__name__)

KEEP = 100  # items per recipient; older ones drop off
MAX_AGE_MS = BY_NAME[INBOX].retention_ms  # what the topic itself still holds

inbox_topic = raw_topic(INBOX)
# use_partitioner: the web server marks items read outside stream iteration
inboxes = app.Table("inbox", default=None, use_partitioner=True,
                    help="recipient id -> newest in-app items")

Item = dict[str, Any]


def item_from(record: Mapping[str, Any]) -> Item:
    """The small dict the table keeps for one ``inbox_item`` record."""
    return {
        "notification_id": record["notification_id"],
        "merchant_id": record["merchant_id"],
        "order_id": record.get("order_id"),
        "category": record["category"],
        "title": record["title"],
        "body": record["body"],
        "created_at": record["created_at"],
        "read": bool(record.get("read", False)),
    }


def add(items: list[Item] | None, item: Item, *, now: int, keep: int = KEEP,
        max_age_ms: int = MAX_AGE_MS) -> list[Item]:
    """Items with ``item`` added, newest first. A redelivered notification
    replaces its earlier copy and keeps its read mark."""
    earlier = {i["notification_id"]: i for i in items or ()}
    previous = earlier.pop(item["notification_id"], None)
    if previous is not None:
        item = {**item, "read": previous["read"] or item["read"]}
    kept = [i for i in (*earlier.values(), item) if now - i["created_at"] <= max_age_ms]
    kept.sort(key=lambda i: (i["created_at"], i["notification_id"]), reverse=True)
    return kept[:keep]


def mark_read(items: list[Item] | None, notification_id: str) -> list[Item] | None:
    """Items with one marked read, or None if the recipient has no such item."""
    items = items or []
    if not any(i["notification_id"] == notification_id for i in items):
        return None
    return [{**i, "read": True} if i["notification_id"] == notification_id else i
            for i in items]


def unread(items: list[Item] | None) -> int:
    return sum(not i["read"] for i in items or ())


def view(recipient_id: str, items: list[Item] | None) -> dict[str, Any]:
    """What ``GET /inbox/{recipient_id}`` answers."""
    return {"recipient_id": recipient_id, "unread": unread(items), "items": list(items or ())}


async def store(event: EventT) -> None:
    msg = event.message
    try:
        record = REGISTRY.decode(event.value, expect="inbox_item")
    except DecodeError as exc:  # never stop the inbox for one bad record
        await outbox.dead_letter("inapp", dispatch.RetryInfo(origin=(msg.topic, msg.partition,
                                                                     msg.offset)),
                                 msg.key, event.value, type(exc).__name__, str(exc), None)
        log.warning("dead-lettered inbox record %s[%d]@%d: %s", msg.topic, msg.partition,
                    msg.offset, exc)
        return
    key = record["recipient_id"]
    state.put(inboxes, msg.partition, key,
              add(inboxes.get(key), item_from(record), now=now_ms()))


@app.agent(inbox_topic, name="streams.inbox.materialise_inbox")
async def materialise_inbox(stream):
    async for event in stream.events():
        await store(event)
