from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from channels.base import Receipt, rate_limited
from channels.exceptions import ProviderUnavailable, Throttled
from channels.ratelimit import RateLimiter, limiter_for, provider_limiters


class FakeClock:
    """Virtual time for one caller at a time: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.during_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.during_sleep is not None:
            hook, self.during_sleep = self.during_sleep, None
            hook()


def limiter(clock: FakeClock, rate: float = 10.0, burst: int = 1, **kw: object) -> RateLimiter:
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rate", "burst"), [(14.0, 1), (14.0, 5), (1.0, 1), (250.0, 10)])
def test_long_run_rate_is_the_configured_rate(rate: float, burst: int) -> None:
    clock = FakeClock()
    lim = limiter(clock, rate, burst)
    start = clock.now
    n = 2000

    async def run() -> None:
        for _ in range(n):
            await lim.acquire()

    asyncio.run(run())
    # the first `burst` go at once, then one every 1/rate seconds
    assert clock.now - start == pytest.approx((n - burst) / rate, rel=1e-9)
    assert n / (clock.now - start) == pytest.approx(rate, rel=0.02)


def test_concurrent_callers_share_the_rate_in_real_time() -> None:
    rate, tasks, each = 40.0, 12, 5  # 60 sends: about 1.5 s
    lim = RateLimiter(rate, 1)
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await lim.acquire()
            stamps.append(time.monotonic())

    async def run() -> None:
        await asyncio.gather(*(worker() for _ in range(tasks)))

    asyncio.run(run())
    stamps.sort()
    measured = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert measured == pytest.approx(rate, rel=0.02)


def test_acquire_reports_the_wait_and_tells_the_observer() -> None:
    clock = FakeClock()
    seen: list[tuple[str, float]] = []
    lim = limiter(clock, 4.0, name="ses:eu-west-1", on_wait=lambda n, s: seen.append((n, s)))

    async def run() -> list[float]:
        return [await lim.acquire() for _ in range(3)]

    assert asyncio.run(run()) == [0.0, 0.25, 0.25]
    assert seen == [("ses:eu-west-1", 0.25), ("ses:eu-west-1", 0.25)]


def test_throttling_halves_the_rate_once_per_cooldown_and_stops_at_the_floor() -> None:
    clock = FakeClock()
    lim = limiter(clock, 16.0, floor=3.0, cooldown_s=1.0)
    lim.on_throttled()
    assert lim.rate == 8.0
    lim.on_throttled()  # another in-flight request reporting the same episode
    assert lim.rate == 8.0
    for _ in range(5):
        clock.now += 1.0
        lim.on_throttled()
    assert lim.rate == 3.0


def test_success_recovers_additively_up_to_the_ceiling() -> None:
    clock = FakeClock()
    lim = limiter(clock, 10.0, increase=1.0)
    lim.on_throttled()
    assert lim.rate == 5.0
    for expected in (6.0, 7.0, 8.0, 9.0, 10.0, 10.0):
        lim.on_success()
        assert lim.rate == expected


def test_retry_after_pauses_every_caller() -> None:
    clock = FakeClock()
    lim = limiter(clock, 100.0)

    async def run() -> float:
        await lim.acquire()
        lim.on_throttled(retry_after=3.0)
        return await lim.acquire()

    waited = asyncio.run(run())
    assert waited == pytest.approx(3.0)


def test_a_caller_asleep_during_a_throttle_queues_again_behind_the_pause() -> None:
    clock = FakeClock()
    lim = limiter(clock, 1.0)
    # while the second caller sleeps for its slot, the provider throttles
    clock.during_sleep = lambda: lim.on_throttled(retry_after=10.0)

    async def run() -> float:
        await lim.acquire()
        return await lim.acquire()

    start = clock.now
    asyncio.run(run())
    assert clock.now - start >= 10.0


def test_set_ceiling_adopts_a_quota() -> None:
    lim = RateLimiter(14.0)
    lim.set_ceiling(50.0)
    assert (lim.ceiling, lim.rate) == (50.0, 50.0)
    with pytest.raises(ValueError):
        lim.set_ceiling(0)


@pytest.mark.parametrize("kwargs", [{"rate_per_s": 0}, {"rate_per_s": 1, "burst": 0},
                                    {"rate_per_s": 1, "decrease": 1.5}])
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_one_limiter_per_provider_account() -> None:
    a = limiter_for("ses:eu-west-1", 14.0)
    assert limiter_for("ses:eu-west-1", 99.0) is a
    assert limiter_for("sns:eu-west-1", 20.0) is not a
    assert set(provider_limiters) == {"ses:eu-west-1", "sns:eu-west-1"}
    assert a.rate == 14.0


def test_rate_limited_feeds_outcomes_back() -> None:
    clock = FakeClock()
    lim = limiter(clock, 10.0, increase=1.0)

    async def throttled() -> Receipt:
        raise Throttled("slow down", retry_after=None)

    async def failing() -> Receipt:
        raise ProviderUnavailable("5xx")

    async def ok() -> Receipt:
        return Receipt("ses", "m-1", 1)

    async def run() -> None:
        with pytest.raises(Throttled):
            await rate_limited(lim, throttled)
        assert lim.rate == 5.0
        with pytest.raises(ProviderUnavailable):
            await rate_limited(lim, failing)
        assert lim.rate == 5.0  # only throttling slows the account down
        assert await rate_limited(lim, ok) == Receipt("ses", "m-1", 1)
        assert lim.rate == 6.0
        assert await rate_limited(None, ok) == Receipt("ses", "m-1", 1)

    asyncio.run(run())
