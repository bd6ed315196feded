"""What every contender of a run shares: the fake provider, the children, a
scratch directory, the run's unique topic prefix and its time budget."""

from __future__ import annotations

import math
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .fakeprovider import FakeProvider
from .measure import Call, Rate, steady_rate
from .procs import BenchError, Child, Children, free_port, http_ok, wait_for


@dataclass
class Budget:
    n: int  # events per contender
    cap_s: float  # a slow contender is measured on what it sends in this time
    latency_s: float  # length of the paced run
    concurrency: int


QUICK = Budget(n=2000, cap_s=8.0, latency_s=8.0, concurrency=32)
FULL = Budget(n=6000, cap_s=20.0, latency_s=20.0, concurrency=32)


@dataclass
class Bench:
    provider: FakeProvider
    children: Children
    scratch: Path
    budget: Budget
    keep: bool = False  # keep each contender's topics (for a look afterwards)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def run_prefix(self) -> str:
        return f"bench-{self.run_id}-"

    def prefix(self, name: str) -> str:
        return f"{self.run_prefix}{name}."

    def app_id(self, name: str) -> str:
        return f"{self.run_prefix}{name}"

    def release(self, name: str) -> None:
        """Delete one contender's topics (its catalog and its worker's changelogs)
        once it is done: thousands of idle partitions wear the shared broker down."""
        if self.keep:
            return
        from . import kafka

        for prefix in (self.prefix(name), f"{self.app_id(name)}-"):
            try:
                kafka.delete_topics_under(prefix)
            except Exception as exc:  # the figures matter more than the tidy-up
                print(f"bench: could not delete {prefix}*: {exc}", file=sys.stderr)

    def worker(self, name: str, prefix: str, app_id: str, patches: tuple[str, ...] = (),
               **env: str) -> tuple[Child, int]:
        """An ordercast worker (``python -m streams worker``) on the fake provider;
        with ``patches``, the same worker with bench.patched speed-ups applied."""
        port = free_port()
        args = ["-m", "bench.patched"] if patches else ["-m", "streams", "worker"]
        child = self.children.start(name, args, {
            "BENCH_PATCHES": ",".join(patches),
            "ORDERCAST_KAFKA_TOPIC_PREFIX": prefix,
            "ORDERCAST_APP_ID": app_id,
            "ORDERCAST_WEB_PORT": str(port),
            "ORDERCAST_DATA_DIR": str(self.scratch / "faust"),
            "ORDERCAST_AWS_ENDPOINT_URL": self.provider.url,
            "ORDERCAST_AWS_SES_MAX_SEND_RATE": "1000000",
            "ORDERCAST_AWS_SMS_MAX_SEND_RATE": "1000000",
            "ORDERCAST_AWS_CONCURRENCY": str(self.budget.concurrency),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **env,
        })
        return child, port

    def wait_ready(self, workers: list[tuple[Child, int]], timeout: float = 120.0) -> None:
        def ready() -> bool:
            for child, port in workers:
                child.check()
                if not http_ok(f"http://127.0.0.1:{port}/readyz"):
                    return False
            return True

        wait_for(ready, timeout, f"{len(workers)} worker(s) to be ready", 0.3)

    def drain(self, n: int, children: list[Child], cap_s: float | None = None,
              first_timeout: float = 90.0, idle_timeout: float = 20.0,
              on_first: Callable[[], None] | None = None) -> Drained:
        """Wait until ``n`` calls reached the provider (or ``cap_s`` seconds
        passed since the first), then measure the steady rate and the CPU the
        children spent in that window."""
        def started() -> bool:
            for child in children:
                child.check()
            return self.provider.count() > 0

        wait_for(started, first_timeout, "the first provider call", 0.02)
        cpu0 = sum(c.cpu_seconds() for c in children)
        if on_first:
            on_first()
        begin = time.monotonic()
        last_count, last_change = 0, begin
        while True:
            count = self.provider.count()
            now = time.monotonic()
            if count >= n or (cap_s is not None and now - begin >= cap_s):
                break
            if count != last_count:
                last_count, last_change = count, now
            elif now - last_change > idle_timeout:
                raise BenchError(f"stalled at {count}/{n} provider calls")
            for child in children:
                child.check()
            time.sleep(0.05)
        cpu = sum(c.cpu_seconds() for c in children) - cpu0
        calls = self.provider.calls()
        return Drained(steady_rate(calls), calls, cpu)


@dataclass(frozen=True)
class Drained:
    rate: Rate
    calls: list[Call]
    cpu_s: float  # CPU the contender's processes used while it was being timed

    @property
    def cpu_ms_per_event(self) -> float:
        return self.cpu_s * 1000 / self.rate.count if self.rate.count else math.nan
