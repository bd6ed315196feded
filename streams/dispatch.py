"""Pure delivery decisions: what a rendered request becomes on its channel, and
what happens after a failure (retry tier, dead letter, fallback)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from channels.base import EmailMessage, InAppMessage, Message, SmsMessage, WebhookMessage
from channels.exceptions import DeliveryError

from .render import Rendered

RETRY_PREFIX = "ordercast.retry."


def to_message(request: Mapping[str, Any], rendered: Rendered, sender: str) -> Message:
    nid, channel = request["notification_id"], request["channel"]
    if channel == "email":
        # the id also rides in the HTML so a mailbox copy can be traced to its record
        html = f"{rendered.html}\n<!-- ordercast-notification:{nid} -->\n"
        return EmailMessage(nid, request["address"], sender, rendered.subject, rendered.text,
                            html, tags={"template": request["template"]})
    if channel == "sms":
        kind = "PROMOTIONAL" if request["category"] == "marketing" else "TRANSACTIONAL"
        return SmsMessage(nid, request["address"], rendered.sms, message_type=kind)
    if channel == "inapp":
        return InAppMessage(nid, request["recipient_id"], request["merchant_id"],
                            request.get("order_id"), request["category"], rendered.subject,
                            rendered.text)
    if channel == "webhook":
        return WebhookMessage(nid, request["address"], {
            "notification_id": nid, "template": request["template"],
            "order_id": request.get("order_id"), "merchant_id": request["merchant_id"],
            "subject": rendered.subject, "text": rendered.text})
    raise ValueError(f"unknown channel {channel!r}")


@dataclass(frozen=True)
class Retry:
    tier: int  # 1-based retry topic
    due_ms: int


@dataclass(frozen=True)
class DeadLetter:
    fallback: Mapping[str, str] | None  # the route to try instead, once


def after_failure(error: DeliveryError, request: Mapping[str, Any], attempt: int,
                  delays_s: Sequence[float], now_ms: int) -> Retry | DeadLetter:
    """`attempt` is the number of the attempt that just failed (1 = first send)."""
    if error.retriable and attempt <= len(delays_s):
        delay = delays_s[attempt - 1]
        if error.retry_after:  # the provider said how long: never come back sooner
            delay = max(delay, error.retry_after)
        return Retry(attempt, now_ms + int(delay * 1000))
    fallback = None
    if (not error.retriable and request["priority"] == "urgent"
            and not request.get("fallback_of") and request.get("fallback")):
        fallback = request["fallback"][0]
    return DeadLetter(fallback)


@dataclass(frozen=True)
class RetryInfo:
    attempt: int = 1  # the attempt this message is
    due_ms: int = 0
    first_failure_ms: int | None = None
    origin: tuple[str, int, int] | None = None  # where the notification first came from


def retry_headers(info: RetryInfo, error: DeliveryError) -> list[tuple[str, bytes]]:
    assert info.origin is not None
    topic, partition, offset = info.origin
    values = {
        "attempt": info.attempt, "due-at": info.due_ms,
        "first-failure-at": info.first_failure_ms, "origin-topic": topic,
        "origin-partition": partition, "origin-offset": offset,
        "last-error": error.error_class,
    }
    return [(RETRY_PREFIX + k, str(v).encode()) for k, v in values.items()]


def read_retry_headers(headers: Any) -> RetryInfo | None:
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    try:
        h = {k[len(RETRY_PREFIX):]: v.decode() for k, v in items
             if isinstance(k, str) and k.startswith(RETRY_PREFIX)}
        if "attempt" not in h:
            return None
        return RetryInfo(int(h["attempt"]), int(h["due-at"]),
                         int(h["first-failure-at"]) if h.get("first-failure-at") else None,
                         (h["origin-topic"], int(h["origin-partition"]),
                          int(h["origin-offset"])))
    except (KeyError, ValueError, UnicodeDecodeError, AttributeError):
        return None  # foreign or damaged headers: treat as a first attempt
