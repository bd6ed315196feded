"""Helpers for tests that talk to the real broker: worker processes, consumers,
polling with deadlines."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = os.environ.get("ORDERCAST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
MOTO_URL = f"http://127.0.0.1:{os.environ.get('ORDERCAST_STACK_MOTO_PORT', '15000')}"
T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.2,
             message: str = "condition") -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message} (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@dataclass
class Worker:
    """An `ordercast worker` subprocess with its own consumer group and port."""

    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 90.0) -> Worker:
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--loglevel", "info"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=ROOT, start_new_session=True)
        wait_for(self._ready, timeout, 0.3, f"worker on :{self.port} to be ready")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}; log:\n"
                                 + self.log.read_text(errors="replace")[-4000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def diagnose(self, timeout: float = 15.0) -> str:
        """For a failed test: the worker's delivery and consumer figures, and
        where its tasks wait (mode's SIGUSR1 dump, cut to this project's frames)."""
        if self.proc is None or self.proc.poll() is not None:
            return f"worker :{self.port} is not running"
        try:
            figures = [line for line in self.metrics().splitlines()
                       if line.startswith(DIAGNOSED) and not line.endswith(" 0.0")]
        except OSError as exc:
            figures = [f"/metrics unreadable: {exc!r}"]
        figures += self._consumer_state()
        start = self.log.stat().st_size
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline, size = time.monotonic() + timeout, -1
        while time.monotonic() < deadline:  # written by the worker's loop: wait until it stops
            time.sleep(1.0)
            if self.log.stat().st_size == size > start:
                break
            size = self.log.stat().st_size
        with open(self.log, "rb") as f:
            f.seek(start)
            dump = f.read().decode(errors="replace")
        return "\n".join([f"worker :{self.port} (pid {self.proc.pid})", *figures,
                          *own_frames(dump)])

    def _consumer_state(self) -> list[str]:
        """The faust consumer's flags, and its partitions not caught up or not fetched."""
        try:
            status, body = self.get("/consumer")
        except OSError as exc:
            return [f"/consumer unreadable: {exc!r}"]
        if status != 200:
            return [f"/consumer: {status} {body[:200]!r}"]
        state = json.loads(body)
        parts = state.pop("partitions")
        out = [f"consumer: {state}"]
        for name, p in parts.items():
            if p["log_end"] is None:
                continue  # not a catalog topic (table changelogs are paused by design)
            behind = p["log_end"] is not None and min(
                p["position"] if p["position"] is not None else -1,
                p["committed"] if p["committed"] is not None else -1) < p["log_end"]
            if behind or not p["faust_active"] or p["faust_paused"]:
                out.append(f"  {name}: {p}")
        return out

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(60)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


DIAGNOSED = ("ordercast_deliveries_total", "ordercast_consumer_lag{",
             "ordercast_consumer_stalls_total", "ordercast_ambiguous_resends_total",
             "ordercast_retries_total", "ordercast_sends_in_progress",
             "ordercast_dedup_hits_total", "ordercast_dead_letters_total",
             "ordercast_events_consumed_total")
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
_OWN = re.compile(r"/((?:streams|channels)/.+)$")
_LIB = re.compile(r"/(?:site-packages|python3\.\d+)/(.+)$")


def own_frames(dump: str, thread_frames: int = 3) -> list[str]:
    """From mode's dump: each task that is inside this project's code, with
    those frames, and each thread with its innermost frames wherever they are
    (a thread stuck in a library is the finding). Innermost last."""
    out: list[str] = []
    block, frames = "", []
    for line in dump.splitlines() + ["  TASK"]:
        if line.startswith("  TASK") or line.startswith("THREAD"):
            if block.startswith("THREAD"):
                frames = frames[-thread_frames:]
            else:
                frames = [f for f in frames if f.startswith(("streams/", "channels/"))]
            if frames:
                out.append(f"{block}: " + " > ".join(frames))
            block, frames = line.strip(), []
        elif m := _FRAME.search(line):
            where = _OWN.search(m[1]) or _LIB.search(m[1])
            frames.append(f"{where[1] if where else m[1]}:{m[2]} {m[3]}")
    return out


def consume(topic: str, until: Callable[[list], bool] | int, timeout: float = 60.0,
            from_beginning: bool = True) -> list:
    """Read messages from `topic` until `until(messages)` holds (or N messages)."""
    done = (lambda msgs: len(msgs) >= until) if isinstance(until, int) else until
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"test-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest" if from_beginning else "latest",
                         "enable.auto.commit": False})
    msgs: list = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(msgs):
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                msgs.append(msg)
    finally:
        consumer.close()
    return msgs


def read_all(topic: str, timeout: float = 10.0) -> list:
    """Everything currently on `topic` (all partitions, up to the high watermarks)."""
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"test-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        parts = md.topics[topic].partitions if topic in md.topics else {}
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)[1]
                for p in parts}
        want = {p: e for p, e in ends.items() if e > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in want])
        msgs: list = []
        seen = {p: 0 for p in want}
        deadline = time.monotonic() + timeout
        while any(seen[p] < want[p] for p in want) and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                msgs.append(msg)
                seen[msg.partition()] = msg.offset() + 1
        return msgs
    finally:
        consumer.close()
