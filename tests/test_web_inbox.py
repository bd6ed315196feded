"""The inbox table's pure logic: newest first, bounded, redeliveries, read marks."""

from __future__ import annotations

import pytest

from channels.base import InAppMessage
from channels.inapp import InAppChannel
from schemas.codec import REGISTRY
from streams import inbox

DAY = 86_400_000
NOW = 1_700_000_000_000


def item(nid: str, at: int, read: bool = False) -> dict:
    return {"notification_id": nid, "merchant_id": "m-1", "order_id": None,
            "category": "transaction", "title": f"t {nid}", "body": "b", "created_at": at,
            "read": read}


def test_item_from_the_record_the_in_app_channel_writes():
    async def publish(topic, key, value):
        return None

    channel = InAppChannel(publish, clock=lambda: NOW)
    key, value = channel.record(InAppMessage("n-1", "b-7", "m-1", "o-9", "transaction",
                                             "Order paid", "Your card key is ready"))
    assert key == b"b-7"
    assert inbox.item_from(REGISTRY.decode(value, expect="inbox_item")) == {
        "notification_id": "n-1", "merchant_id": "m-1", "order_id": "o-9",
        "category": "transaction", "title": "Order paid", "body": "Your card key is ready",
        "created_at": NOW, "read": False}


def test_newest_first_whatever_the_arrival_order():
    items = None
    for nid, at in (("a", NOW - 3), ("c", NOW - 1), ("b", NOW - 2)):
        items = inbox.add(items, item(nid, at), now=NOW)
    assert [i["notification_id"] for i in items] == ["c", "b", "a"]


def test_keeps_only_the_newest():
    items = None
    for n in range(inbox.KEEP + 5):
        items = inbox.add(items, item(f"n{n}", NOW - 1000 + n), now=NOW)
    assert len(items) == inbox.KEEP
    assert items[0]["notification_id"] == f"n{inbox.KEEP + 4}"
    assert items[-1]["notification_id"] == "n5"


def test_items_older_than_the_topic_retention_drop_off():
    items = [item("old", NOW - inbox.MAX_AGE_MS - 1), item("recent", NOW - DAY)]
    assert [i["notification_id"] for i in inbox.add(items, item("new", NOW), now=NOW)] == [
        "new", "recent"]


@pytest.mark.parametrize("read_before", [True, False])
def test_a_redelivered_item_replaces_its_copy_and_keeps_the_read_mark(read_before):
    items = [item("a", NOW - 5, read=read_before), item("b", NOW - 4)]
    again = inbox.add(items, item("a", NOW - 5), now=NOW)
    assert [i["notification_id"] for i in again] == ["b", "a"]
    assert again[1]["read"] is read_before


def test_mark_read_is_idempotent_and_none_for_unknown_ids():
    items = [item("a", NOW - 2), item("b", NOW - 1)]
    once = inbox.mark_read(items, "a")
    assert [i["read"] for i in once] == [True, False]
    assert inbox.mark_read(once, "a") == once
    assert items[0]["read"] is False  # the stored list is not changed in place
    assert inbox.mark_read(items, "zzz") is None
    assert inbox.mark_read(None, "a") is None


def test_view_counts_unread():
    items = [item("a", NOW, read=True), item("b", NOW - 1), item("c", NOW - 2)]
    assert inbox.view("b-7", items) == {"recipient_id": "b-7", "unread": 2, "items": items}
    assert inbox.view("b-8", None) == {"recipient_id": "b-8", "unread": 0, "items": []}
