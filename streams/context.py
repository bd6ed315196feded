"""Process-wide read-only things the agents share, built once from settings."""

from __future__ import annotations

from functools import lru_cache

from . import settings as cfg
from .merchants import Merchants, load_merchants
from .routing import RoutingConfig

HOUR_MS = 3_600_000


@lru_cache(maxsize=1)
def merchants() -> Merchants:
    path = cfg.worker().merchants_file
    return load_merchants(path if path.is_file() else None)


@lru_cache(maxsize=1)
def routing_config() -> RoutingConfig:
    w = cfg.worker()
    return RoutingConfig(payment_reminder_after_ms=int(w.payment_reminder_min * 60_000),
                         recall_window_ms=int(w.recall_window_h * HOUR_MS))
