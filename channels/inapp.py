"""In-app inbox: a notification is an ``inbox_item`` record appended to the
inbox topic, keyed by recipient so one buyer's inbox stays in one partition.
The worker serves the inbox from that topic; this channel only writes."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from schemas import codec
from schemas.exceptions import EncodeError
from streams.catalog import INBOX

from .base import InAppMessage, Receipt, now_ms
from .exceptions import (
    ConnectionFailed,
    ContentRejected,
    MessageTooLong,
    ProviderTimeout,
    ProviderUnavailable,
)
from .ratelimit import RateLimiter

Publish = Callable[[str, bytes, bytes], Awaitable[object]]


class InAppChannel:
    name = "inapp"
    provider = "inapp"
    max_send_rate = math.inf  # our own Kafka topic: no provider quota
    max_body_chars = 4000

    def __init__(self, publish: Publish, *, topic: str = INBOX,
                 clock: Callable[[], int] = now_ms) -> None:
        self.publish = publish  # async (topic, key, value): a Kafka producer's send
        self.topic = topic
        self.limiter: RateLimiter | None = None  # no provider quota to honour
        self._clock = clock

    def record(self, message: InAppMessage) -> tuple[bytes, bytes]:
        """The (key, value) written to the inbox topic."""
        if len(message.body) > self.max_body_chars:
            raise MessageTooLong(f"in-app body of {len(message.body)} chars is over "
                                 f"{self.max_body_chars}")
        item = {
            "notification_id": message.notification_id,
            "recipient_id": message.recipient_id,
            "merchant_id": message.merchant_id,
            "order_id": message.order_id,
            "category": message.category,
            "title": message.title,
            "body": message.body,
            "created_at": self._clock(),
            "read": False,
        }
        try:
            value = codec.encode("inbox_item", item)
        except EncodeError as exc:
            raise ContentRejected(f"inbox item does not encode: {exc}") from None
        return message.recipient_id.encode(), value

    async def send(self, message: InAppMessage) -> Receipt:
        key, value = self.record(message)
        try:
            await self.publish(self.topic, key, value)
        except TimeoutError as exc:
            # the record may still have been written: a resend can duplicate it
            raise ProviderTimeout("inbox publish timed out", ambiguous=True) from exc
        except ConnectionError as exc:
            raise ConnectionFailed(f"inbox publish failed: {type(exc).__name__}") from exc
        except Exception as exc:
            # Kafka clients flag transient errors with .retriable (aiokafka,
            # confluent KafkaError.retriable()); anything else is a bug: re-raise.
            flag = getattr(exc, "retriable", False)
            if callable(flag):
                flag = flag()
            if flag:
                raise ProviderUnavailable(
                    f"inbox publish failed: {type(exc).__name__}") from exc
            raise
        return Receipt(self.provider, message.notification_id)

    async def close(self) -> None:
        return None
