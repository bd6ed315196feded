"""The contenders of ``python -m bench``: each on its own fresh topics, fed the
same paid orders, timed by the fake provider (or, for the raw ceiling, by itself)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from streams.catalog import channel_topic, full_name

from . import kafka
from .context import Bench
from .events import LIFECYCLE_TOPIC, OrderEvent, order_events
from .measure import Latency, Rate, latencies
from .procs import free_port, wait_for


@dataclass(frozen=True)
class Result:
    name: str
    rate: Rate
    note: str = ""


def raw_ceiling(b: Bench, events: list[OrderEvent], volume: int) -> Result:
    """The same events, repeated up to ``volume`` messages: N alone passes
    through in tens of milliseconds, too short to time."""
    prefix = b.prefix("raw")
    kafka.provision(prefix)
    topic = full_name(LIFECYCLE_TOPIC, prefix)
    encoded = [(ev.key, ev.encode()) for ev in events]
    repeats = max(1, -(-volume // len(encoded)))
    total = kafka.publish_raw(topic, (kv for _ in range(repeats) for kv in encoded))
    out = b.scratch / "raw.json"
    child = b.children.start("raw", [
        "-m", "bench.raw", "--topic", topic,
        "--out", full_name(channel_topic("email"), prefix), "--group", b.app_id("raw"),
        "--n", str(total), "--result", str(out)])
    wait_for(lambda: child.proc.poll() is not None, 120, "the raw passthrough to finish", 0.1)
    child.check_exit()
    r = json.loads(out.read_text())
    return Result("raw ceiling (consume+produce)", Rate(r["n"], r["seconds"], r["per_s"]))


def naive_peer(b: Bench, events: list[OrderEvent]) -> Result:
    prefix = b.prefix("peer")
    kafka.provision(prefix)
    kafka.publish_all(prefix, events)
    b.provider.reset()
    child = b.children.start("peer", [
        "-m", "bench.naive", "--topic", full_name(LIFECYCLE_TOPIC, prefix),
        "--group", b.app_id("peer"), "--endpoint", b.provider.url, "--n", str(len(events))])
    try:
        rate, _ = b.drain(len(events), [child], cap_s=b.budget.cap_s)
    finally:
        b.children.stop(child)
    return Result("naive peer (poll/render/send/commit)", rate, _capped(rate, events))


def naive_faust(b: Bench, events: list[OrderEvent]) -> Result:
    prefix = b.prefix("faust")
    kafka.provision(prefix)
    kafka.publish_all(prefix, events)
    b.provider.reset()
    child = b.children.start("naive-faust", ["-m", "bench.naive_faust"], {
        "BENCH_APP_ID": b.app_id("faust"), "BENCH_TOPIC": full_name(LIFECYCLE_TOPIC, prefix),
        "BENCH_ENDPOINT": b.provider.url, "BENCH_WEB_PORT": str(free_port()),
        "BENCH_DATA_DIR": str(b.scratch / "naive-faust")})
    try:
        rate, _ = b.drain(len(events), [child], cap_s=b.budget.cap_s)
    finally:
        b.children.stop(child)
    return Result("naive Faust agent (sync boto3)", rate, _capped(rate, events))


def ordercast(b: Bench, events: list[OrderEvent], workers: int,
              latency_after: bool = False) -> tuple[Result, Latency | None]:
    """``workers`` worker processes in one group; with ``latency_after``, then a
    paced run at half the measured rate on the same (warm) worker."""
    name = f"oc{workers}w"
    prefix, app_id = b.prefix(name), b.app_id(name)
    kafka.provision(prefix)
    started = [b.worker(f"{name}-{i}", prefix, app_id) for i in range(workers)]
    children = [c for c, _ in started]
    try:
        b.wait_ready(started)
        wait_for(lambda: kafka.group_members(app_id) == workers, 60,
                 f"{workers} member(s) in a stable group", 0.3)
        b.wait_ready(started)  # readiness after the last rebalance
        b.provider.reset()
        kafka.publish_all(prefix, events)
        rate, _ = b.drain(len(events), children)
        result = Result(f"ordercast, {workers} worker{'s' if workers > 1 else ''}", rate)
        latency = paced_latency(b, prefix, children, rate.per_s / 2) if latency_after else None
    finally:
        for child in children:
            b.children.stop(child)
    return result, latency


def paced_latency(b: Bench, prefix: str, children, rate: float) -> Latency:
    n = max(50, int(rate * b.budget.latency_s))
    events = order_events(n, first=500_000_001, seed=11)
    b.provider.reset()
    published = kafka.publish_paced(prefix, events, rate)
    deadline = time.monotonic() + 30
    while b.provider.count() < n and time.monotonic() < deadline:
        for child in children:
            child.check()
        time.sleep(0.1)
    return latencies(published, b.provider.calls())


def _capped(rate: Rate, events: list[OrderEvent]) -> str:
    return f"measured on {rate.count} of {len(events)} (time cap)" if rate.count < len(
        events) else ""
