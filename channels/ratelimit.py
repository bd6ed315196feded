"""One rate limiter per provider account, shared by every concurrent send in
the process, so provider quotas are honoured by waiting instead of failing.

Why not ``aiolimiter.AsyncLimiter``: its rate is fixed at construction (the
per-second rate is a private attribute) and it has no notion of "pause until",
so neither the adaptive rate (slow down on throttling, recover on success) nor
a provider's Retry-After can be expressed without reaching into its internals.
The algorithm here is GCRA (the token bucket expressed as a "theoretical
arrival time"): each caller reserves its slot synchronously, so the long-run
rate is exact and callers go in arrival order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """Token bucket of ``burst`` tokens refilled at ``rate_per_s``.

    ``on_throttled`` cuts the rate (multiplicative decrease, not below
    ``floor``) and pauses everyone for ``retry_after`` or one interval;
    ``on_success`` adds ``increase`` back per success up to ``ceiling`` (the
    configured or quota rate).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        name: str = "",
        floor: float | None = None,
        decrease: float = 0.5,
        increase: float | None = None,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.name = name
        self.burst = burst
        self.decrease = decrease
        self.cooldown_s = cooldown_s
        self.on_wait = on_wait  # (name, seconds waited) -> None, for metrics
        self._clock = clock
        self._sleep = sleep
        self._floor = floor
        self._increase = increase
        self.ceiling = self.rate = float(rate_per_s)
        self._tat = 0.0  # theoretical arrival time of the next request
        self._paused_until = 0.0
        self._generation = 0  # bumped on throttling: sleeping callers re-reserve
        self._last_decrease = float("-inf")

    @property
    def floor(self) -> float:
        return min(self.ceiling, self._floor if self._floor is not None else self.ceiling / 20)

    @property
    def increase(self) -> float:
        return self._increase if self._increase is not None else self.ceiling / 50

    async def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        start = self._clock()
        while True:
            now = self._clock()
            generation = self._generation
            interval = 1.0 / self.rate
            tat = max(self._tat, now, self._paused_until)
            send_at = max(tat - (self.burst - 1) * interval, now, self._paused_until)
            self._tat = tat + interval  # reserved before sleeping: callers never collide
            if send_at > now:
                # A cancelled caller leaves its slot unused: slower, never faster.
                await self._sleep(send_at - now)
            if generation == self._generation:
                break
            # throttled while we slept: our slot was dropped, queue again
        waited = self._clock() - start
        if waited > 0 and self.on_wait is not None:
            self.on_wait(self.name, waited)
        return waited

    def on_throttled(self, retry_after: float | None = None) -> None:
        now = self._clock()
        # Every request in flight when the provider started throttling reports
        # it; one decrease per cooldown keeps a burst of reports from
        # collapsing the rate to the floor.
        if now - self._last_decrease >= self.cooldown_s:
            self.rate = max(self.floor, self.rate * self.decrease)
            self._last_decrease = now
        pause = retry_after if retry_after and retry_after > 0 else 1.0 / self.rate
        self._paused_until = max(self._paused_until, now + pause)
        self._tat = self._paused_until  # drop outstanding reservations
        self._generation += 1

    def on_success(self) -> None:
        if self.rate < self.ceiling:
            self.rate = min(self.ceiling, self.rate + self.increase)

    def set_ceiling(self, rate_per_s: float) -> None:
        """Adopt a new configured or quota rate (e.g. SES ``MaxSendRate``)."""
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self.ceiling = self.rate = float(rate_per_s)

    def __repr__(self) -> str:
        return (f"RateLimiter({self.name!r}, rate={self.rate:.3g}/s, "
                f"ceiling={self.ceiling:.3g}/s, burst={self.burst})")


#: Limiters by provider account ("ses:eu-west-1", "sns:ap-east-1", ...).
provider_limiters: dict[str, RateLimiter] = {}


def limiter_for(account: str, rate_per_s: float, burst: int = 1) -> RateLimiter:
    """The process-wide limiter of one provider account, created on first use;
    later callers share it whatever rate they pass."""
    limiter = provider_limiters.get(account)
    if limiter is None:
        limiter = provider_limiters[account] = RateLimiter(rate_per_s, burst, name=account)
    return limiter
