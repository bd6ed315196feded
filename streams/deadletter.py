"""Dead letters: what failed, where it came from and why, in headers and value.

Header names follow Kafka Connect's DLQ habit under our own prefix, so any
consumer (kcat, a UI) can see the reason without decoding the value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from schemas.codec import REGISTRY

PREFIX = "ordercast.dlt."
MAX_PAYLOAD = 512 * 1024  # keep the dead letter under the broker's 1 MB message limit


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None


def build(origin: Origin, payload: bytes | None, error_class: str, error_message: str, *,
          attempts: int = 1, first_failure_ms: int | None = None, channel: str | None = None,
          notification_id: str | None = None, now_ms: int | None = None
          ) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Return (value, headers) for a dead letter."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    payload = payload or b""
    if len(payload) > MAX_PAYLOAD:
        error_message = f"{error_message} (payload of {len(payload)} bytes truncated)"
        payload = payload[:MAX_PAYLOAD]
    error_message = error_message[:1000]
    record: dict[str, Any] = {
        "original_topic": origin.topic,
        "original_partition": origin.partition,
        "original_offset": origin.offset,
        "original_key": origin.key,
        "payload": payload,
        "error_class": error_class,
        "error_message": error_message,
        "attempts": attempts,
        "first_failure_at": first_failure_ms or now,
        "last_failure_at": now,
        "channel": channel,
        "notification_id": notification_id,
    }
    headers = [
        ("original-topic", origin.topic),
        ("original-partition", str(origin.partition)),
        ("original-offset", str(origin.offset)),
        ("attempts", str(attempts)),
        ("error-class", error_class),
        ("error-message", error_message),
        ("first-failure-at", str(record["first_failure_at"])),
        ("last-failure-at", str(now)),
    ]
    if channel:
        headers.append(("channel", channel))
    if notification_id:
        headers.append(("notification-id", notification_id))
    value = REGISTRY.encode("dead_letter", record, check=False)
    return value, [(PREFIX + k, v.encode()) for k, v in headers]


def read_headers(headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> dict[str, str]:
    """Our dead-letter headers as a plain dict without the prefix."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return {k[len(PREFIX):]: (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in items if k.startswith(PREFIX)}
