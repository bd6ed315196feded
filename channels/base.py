"""Per-channel message models, the provider receipt and the ``Channel`` protocol.

A channel's facts (name, provider, max send rate, max body length) are class
attributes; ``send`` either returns a :class:`Receipt` (the provider accepted
the message) or raises a :class:`~channels.exceptions.DeliveryError` subclass.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from .exceptions import Throttled
from .ratelimit import RateLimiter


@dataclass(frozen=True, slots=True)
class EmailMessage:
    notification_id: str
    to: str
    sender: str | None  # None: the channel's configured sender
    subject: str
    text: str
    html: str | None
    reply_to: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    notification_id: str
    phone: str
    text: str
    sender_id: str | None = None
    message_type: str = "TRANSACTIONAL"  # or "PROMOTIONAL"


@dataclass(frozen=True, slots=True)
class InAppMessage:
    notification_id: str
    recipient_id: str
    merchant_id: str
    order_id: str | None
    category: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    notification_id: str
    endpoint: str  # name of a configured endpoint (its URL and secret live in config)
    payload: Mapping[str, Any]


Message = EmailMessage | SmsMessage | InAppMessage | WebhookMessage
M_contra = TypeVar("M_contra", contravariant=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    provider_message_id: str
    accepted_at: int = field(default_factory=now_ms)  # epoch millis


@runtime_checkable
class Channel(Protocol[M_contra]):
    name: str  # "email" | "sms" | "inapp" | "webhook" (streams.catalog.CHANNELS)
    provider: str  # "ses", "sns", ...: the provider account the rate limit belongs to
    max_send_rate: float  # messages per second the provider allows by default
    max_body_chars: int
    limiter: RateLimiter | None  # the provider account's shared limiter, if any

    async def send(self, message: M_contra) -> Receipt: ...

    async def close(self) -> None: ...


async def rate_limited(
    limiter: RateLimiter | None, call: Callable[[], Awaitable[Receipt]]
) -> Receipt:
    """Run one provider call under the provider's shared rate limiter and feed
    the outcome back to it (throttling slows every sender down)."""
    if limiter is None:
        return await call()
    await limiter.acquire()
    try:
        receipt = await call()
    except Throttled as exc:
        limiter.on_throttled(exc.retry_after)
        raise
    limiter.on_success()
    return receipt
