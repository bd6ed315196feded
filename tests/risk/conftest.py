from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from streams.risk.rules import EventFields

T0 = 1_767_225_600_000  # midnight UTC: a multiple of every window size used here


@pytest.fixture
def event() -> Callable[..., EventFields]:
    """Factory: ``event(seconds_after_T0, ...)``; fresh event id unless given."""
    serial = itertools.count(1)

    def make(at_s: float, *, event_id: str | None = None, ip: str | None = "203.0.113.7",
             email: str | None = "buyer@example.com", merchant: str = "shop-1",
             order: str | None = None) -> EventFields:
        n = next(serial)
        return EventFields(event_id or f"ev-{n}", T0 + round(at_s * 1000), merchant,
                           order or f"O{n}", ip, email)

    return make
