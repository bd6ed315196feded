from __future__ import annotations

import asyncio

import pytest

from channels.base import InAppMessage
from channels.exceptions import MessageTooLong, ProviderTimeout, ProviderUnavailable
from channels.inapp import InAppChannel
from schemas import codec
from streams.catalog import INBOX


class Published:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.fail = fail

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.records.append((topic, key, value))


def message(**overrides: object) -> InAppMessage:
    fields: dict[str, object] = dict(
        notification_id="n-1", recipient_id="buyer-7", merchant_id="m-1", order_id="12345",
        category="transaction", title="订单已支付", body="您的卡密已就绪，请在订单页查看。")
    fields.update(overrides)
    return InAppMessage(**fields)  # type: ignore[arg-type]


def test_send_appends_an_inbox_item_keyed_by_recipient() -> None:
    publish = Published()
    channel = InAppChannel(publish, clock=lambda: 1_700_000_000_000)
    receipt = asyncio.run(channel.send(message()))
    [(topic, key, value)] = publish.records
    assert (topic, key) == (INBOX, b"buyer-7")
    item = codec.decode(value, expect="inbox_item")
    assert item == {"notification_id": "n-1", "recipient_id": "buyer-7", "merchant_id": "m-1",
                    "order_id": "12345", "category": "transaction", "title": "订单已支付",
                    "body": "您的卡密已就绪，请在订单页查看。",
                    "created_at": 1_700_000_000_000, "read": False}
    assert (receipt.provider, receipt.provider_message_id) == ("inapp", "n-1")


def test_order_id_is_optional() -> None:
    publish = Published()
    asyncio.run(InAppChannel(publish).send(message(order_id=None)))
    assert codec.decode(publish.records[0][2])["order_id"] is None


def test_too_long_body_is_rejected_before_publishing() -> None:
    publish = Published()
    with pytest.raises(MessageTooLong):
        asyncio.run(InAppChannel(publish).send(message(body="x" * 4001)))
    assert publish.records == []


class TransientKafkaError(Exception):
    retriable = True  # as aiokafka's KafkaError subclasses declare it


@pytest.mark.parametrize(("fail", "error"), [
    (TimeoutError(), ProviderTimeout),
    (TransientKafkaError(), ProviderUnavailable),
])
def test_publish_failures_are_typed(fail: BaseException, error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(InAppChannel(Published(fail)).send(message()))


def test_unexpected_publish_errors_propagate() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(InAppChannel(Published(RuntimeError("bug"))).send(message()))
