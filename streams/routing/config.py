"""Tunable numbers of the routing rules, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


@dataclass(frozen=True)
class RoutingConfig:
    payment_reminder_after_ms: int = 15 * MINUTE_MS  # unpaid this long -> reminder
    logistics_delay_after_ms: int = 24 * HOUR_MS  # no shipment update this long -> notice
    recall_window_ms: int = 24 * HOUR_MS  # at most one payment-failure recall per order per window


DEFAULT_CONFIG = RoutingConfig()


def recall_allowed(last_recall_ms: int | None, now_ms: int, window_ms: int) -> bool:
    """True when no recall went out for this order within the last ``window_ms``."""
    return last_recall_ms is None or now_ms - last_recall_ms >= window_ms
