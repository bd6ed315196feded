"""The contenders of ``python -m bench``: each on its own fresh topics, fed the
same paid orders, timed by the fake provider (or, for the raw ceiling, by itself)."""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from streams.catalog import channel_topic, full_name

from . import kafka, profile
from .context import Bench, Drained
from .events import LIFECYCLE_TOPIC, OrderEvent, order_events
from .measure import Latency, Rate, between, first_calls
from .procs import Child, free_port, wait_for


@dataclass(frozen=True)
class Result:
    name: str
    rate: Rate
    cpu_ms_per_event: float = math.nan  # CPU of the contender's own processes
    note: str = ""


def raw_ceiling(b: Bench, events: list[OrderEvent], volume: int) -> Result:
    """The same events, repeated up to ``volume`` messages: N alone passes
    through in tens of milliseconds, too short to time."""
    prefix = b.prefix("raw")
    kafka.provision(prefix, [LIFECYCLE_TOPIC, channel_topic("email")])
    topic = full_name(LIFECYCLE_TOPIC, prefix)
    encoded = [(ev.key, ev.encode()) for ev in events]
    repeats = max(1, -(-volume // len(encoded)))
    total = kafka.publish_raw(topic, (kv for _ in range(repeats) for kv in encoded))
    out = b.scratch / "raw.json"
    child = b.children.start("raw", [
        "-m", "bench.raw", "--topic", topic,
        "--out", full_name(channel_topic("email"), prefix), "--group", b.app_id("raw"),
        "--n", str(total), "--result", str(out)])
    try:
        wait_for(lambda: child.proc.poll() is not None, 120, "the raw passthrough to finish",
                 0.1)
        child.check_exit()
    finally:
        b.children.stop(child)
        b.release("raw")
    r = json.loads(out.read_text())
    return Result("raw ceiling: consume + produce", Rate(r["n"], r["seconds"], r["per_s"]),
                  note=f"{len(events)} events x {repeats}")


def naive_peer(b: Bench, events: list[OrderEvent]) -> Result:
    prefix = b.prefix("peer")
    kafka.provision(prefix, [LIFECYCLE_TOPIC])
    kafka.publish_all(prefix, events)
    b.provider.reset()
    child = b.children.start("peer", [
        "-m", "bench.naive", "--topic", full_name(LIFECYCLE_TOPIC, prefix),
        "--group", b.app_id("peer"), "--endpoint", b.provider.url, "--n", str(len(events))])
    try:
        d = b.drain(len(events), [child], cap_s=b.budget.cap_s)
    finally:
        b.children.stop(child)
        b.release("peer")
    return _result("naive peer: poll, render, send, commit", d, events)


def naive_faust(b: Bench, events: list[OrderEvent]) -> Result:
    prefix = b.prefix("faust")
    kafka.provision(prefix, [LIFECYCLE_TOPIC])
    kafka.publish_all(prefix, events)
    b.provider.reset()
    child = b.children.start("naive-faust", ["-m", "bench.naive_faust"], {
        "BENCH_APP_ID": b.app_id("faust"), "BENCH_TOPIC": full_name(LIFECYCLE_TOPIC, prefix),
        "BENCH_ENDPOINT": b.provider.url, "BENCH_WEB_PORT": str(free_port()),
        "BENCH_DATA_DIR": str(b.scratch / "naive-faust")})
    try:
        d = b.drain(len(events), [child], cap_s=b.budget.cap_s)
    finally:
        b.children.stop(child)
        b.release("faust")
    return _result("naive Faust agent: sync boto3", d, events)


def ordercast(b: Bench, events: list[OrderEvent], workers: int, *, latency: bool = False,
              profile_dir: Path | None = None, patches: tuple[str, ...] = (),
              tag: str = "", latency_rate: float | None = None
              ) -> tuple[Result, Latencies | None]:
    """``workers`` worker processes in one group, started before the events are
    published; with ``latency``, then a paced run at half the measured rate on
    the same (warm) worker (or at ``latency_rate``). ``patches``: see bench.patched."""
    name = f"oc{workers}w{tag}"
    prefix, app_id = b.prefix(name), b.app_id(name)
    kafka.provision(prefix)
    started: list = []
    children: list[Child] = []
    try:
        # one at a time: two workers starting together on a fresh app race to
        # create the changelog topics, and the loser can hang in its first
        # rebalance ("Ignoring missing topic ... preferences-changelog")
        for i in range(workers):
            started.append(b.worker(f"{name}-{i}", prefix, app_id, patches))
            children.append(started[-1][0])
            b.wait_ready(started)
        wait_for(lambda: kafka.group_members(app_id) == workers, 90,
                 f"{workers} member(s) in a stable group", 0.3)
        b.wait_ready(started)  # ready again after the last rebalance
        b.provider.reset()
        kafka.publish_all(prefix, events)
        spy = Spy(children[0], profile_dir, f"{name}-throughput", b.budget.cap_s)
        d = b.drain(len(events), children, on_first=spy.start)
        spy.finish()
        label = f"ordercast, {workers} worker{'s' if workers > 1 else ''}"
        if patches:
            label += f" + {'+'.join(patches)}"
        result = _result(label, d, events)
        lat = None
        if latency:  # the in-app copies may still be on their way: let them finish
            wait_for(lambda: _caught_up(app_id), 90, "the worker to catch up", 0.5)
            lat = paced_latency(b, prefix, children, latency_rate or d.rate.per_s / 2)
    finally:
        for child in children:
            b.children.stop(child)
        b.release(name)
    return result, lat


@dataclass(frozen=True)
class Latencies:
    rate: float  # events/s published
    total: Latency  # publish -> provider call
    route: Latency  # publish -> request on notify.email (the router's hop)
    deliver: Latency  # request on notify.email -> provider call


def paced_latency(b: Bench, prefix: str, children: list[Child], rate: float) -> Latencies:
    """Publish at ``rate`` for the budget's duration; publish time -> provider
    call, split at the broker timestamp of the email request in between."""
    n = max(50, int(rate * b.budget.latency_s))
    events = order_events(n, first=500_000_001, seed=11)
    b.provider.reset()
    published = kafka.publish_paced(prefix, events, rate)
    deadline = time.monotonic() + 30
    while b.provider.count() < n and time.monotonic() < deadline:
        for child in children:
            child.check()
        time.sleep(0.1)
    called = first_calls(b.provider.calls())
    routed = kafka.record_times(full_name(channel_topic("email"), prefix), set(published))
    return Latencies(rate, between(published, called), between(published, routed),
                     between(routed, called))


class Spy:
    """Optional py-spy recording of one worker while it is timed."""

    def __init__(self, child: Child, out_dir: Path | None, name: str, seconds: float) -> None:
        self.child, self.out_dir, self.name, self.seconds = child, out_dir, name, seconds
        self.proc = None

    def start(self) -> None:
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.proc = profile.record(self.child.proc.pid, self.out_dir / f"{self.name}.txt",
                                       self.seconds)

    def finish(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:  # drained early: py-spy writes what it has on SIGINT
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        raw = self.out_dir / f"{self.name}.txt"
        if raw.exists():
            (self.out_dir / f"{self.name}.summary.txt").write_text(profile.summarise(raw))


def _caught_up(group: str) -> bool:
    lag = kafka.group_lag(group)
    return lag is not None and not any(lag.values())


def _result(name: str, d: Drained, events: list[OrderEvent]) -> Result:
    note = (f"timed on {d.rate.count} of {len(events)} (time cap)"
            if d.rate.count < len(events) else "")
    return Result(name, d.rate, d.cpu_ms_per_event, note)
