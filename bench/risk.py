"""Risk benchmark on the real broker: how fast the ordercast worker counts failed
payments, how fast the obvious Faust version counts the same events, and how
soon a card-testing alert comes out at 2,000 payment failures per second.

    python -m bench.risk            # full form, a few minutes
    python -m bench.risk --quick    # short form, about a minute

Four phases; the first and third share one worker and topic namespace, the naive
agent has its own:

1. ordercast throughput: a risk worker (``python -m streams worker``, role
   ``risk``) is started and its consumer groups settle; then a labelled backlog
   (bench.risk_data.generate, mostly normal traffic) is published at once, and
   ``ordercast_risk_observations_total`` on its /metrics is polled until every
   (rule, key) observation is counted, timed from the start of the publish.
2. naive Faust throughput: the same, with one Faust agent that keeps the
   counts in windowed tables (``table[key] += 1``, then ``.value()`` against
   the threshold), polled on its /progress page.
3. alert latency: once it has finished the backlog, the same worker is fed a
   paced stream whose event times are wall-clock time; for each alert the
   reference predicts, latency is the alert's arrival on the alert topic minus
   the publish time of the event that crossed the threshold.
4. the same paced stream once more, on a fresh namespace, with two risk workers
   in one group (the risk role scales out by partitions).

Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.codec import REGISTRY
from streams import settings as cfg
from streams import topics
from streams.catalog import LIFECYCLE, RISK_ALERTS, TopicSpec, full_name
from streams.risk import DEFAULT_RULES, fields_of, keys_for
from streams.stack import kafka_ready, moto_ready, moto_url

from .kafka import delete_topics_under, group_members
from .measure import percentile
from .procs import (
    BenchError,
    Child,
    Children,
    free_port,
    http_ok,
    sigterm_as_interrupt,
    wait_for,
)
from .risk_data import START_MS, generate, reference_alerts

PAYMENT_FAILED = next(s.name for s in LIFECYCLE if s.schema == "payment_failed")
NAIVE_ALERTS = "bench.naive-risk-alerts"
OBSERVED = "ordercast_risk_observations_total"
HOUR_MS = 3_600_000
Ident = tuple[str, str, int]  # (rule, key value, window start ms): one alert


@dataclass(frozen=True)
class Plan:
    n_normal: int  # normal failures in the throughput backlog
    attacks: int  # attacks of each kind in the backlog
    cap_s: float  # a throughput is measured on what is counted within this time
    rate: float  # payment failures per second in the latency phase
    latency_s: float  # length of the paced run
    bursts: int  # attacks of each kind spread over the paced run
    wait_s: float  # how long alerts may take after the last publish before counting as lost


QUICK = Plan(n_normal=1_500, attacks=3, cap_s=20.0, rate=2000.0, latency_s=8.0, bursts=15,
             wait_s=10.0)
FULL = Plan(n_normal=5_000, attacks=6, cap_s=75.0, rate=2000.0, latency_s=20.0, bursts=60,
            wait_s=30.0)


# -- events -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Stream:
    events: list[dict[str, Any]]
    encoded: list[tuple[bytes, bytes]]  # (key, value) as published, if encoded up front
    observations: int  # (rule, key) pairs the events count toward
    expected: dict[Ident, str]  # reference alert -> id of the event that crosses

    @classmethod
    def of(cls, events: list[dict[str, Any]], encode: bool = True) -> Stream:
        REGISTRY.validate("payment_failed", events[0])  # the generator's shape, checked once
        encoded = [_encode(e) for e in events] if encode else []
        observations = sum(len(keys_for(e, DEFAULT_RULES, {})) for e in events)
        expected = {(a.rule, a.key.partition(":")[2], a.window_start): a.event_id
                    for a in reference_alerts(events, DEFAULT_RULES, {})}
        return cls(events, encoded, observations, expected)


def _encode(event: dict[str, Any]) -> tuple[bytes, bytes]:
    return (event["envelope"]["order_id"].encode(),
            REGISTRY.encode("payment_failed", event, check=False))


def backlog(plan: Plan, now_ms: int) -> Stream:
    """An hour of failures that ended more than an hour ago: recent enough for the
    topics' retention, old enough that its windows have closed by the paced run."""
    start = (now_ms - 3 * HOUR_MS) // HOUR_MS * HOUR_MS
    a = plan.attacks
    return Stream.of(generate(seed=5, n_normal=plan.n_normal, n_card_ip=a, n_card_email=a,
                              n_many_emails=a, n_slow=a, n_straddle=a, start_ms=start).events)


def paced_events(plan: Plan) -> list[dict[str, Any]]:
    """An hour of traffic (normal plus card-testing bursts) squeezed into
    ``latency_s`` seconds: about ``rate`` events per second.  Event times are
    offsets in ms from 0 until ``at`` moves them to wall-clock time."""
    b = plan.bursts
    attack_events = b * 3 * 20  # about what generate makes per attack
    n_normal = max(100, int(plan.rate * plan.latency_s) - attack_events)
    events = generate(seed=9, n_normal=n_normal, n_card_ip=b, n_card_email=b, n_many_emails=b,
                      n_slow=0, n_straddle=0, start_ms=START_MS).events
    span = plan.latency_s * 1000 / HOUR_MS
    for e in events:
        env = e["envelope"]
        env["occurred_at"] = int((env["occurred_at"] - START_MS) * span)
    return events


def at(events: list[dict[str, Any]], start_ms: int) -> list[dict[str, Any]]:
    for e in events:
        e["envelope"]["occurred_at"] += start_ms
    return events


# -- broker -----------------------------------------------------------------------------

def bootstrap() -> str:
    return cfg.kafka().bootstrap


def publish(topic: str, items: Sequence[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap(), "linger.ms": 5, "acks": "all"})
    for key, value in items:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60):
        raise BenchError(f"events for {topic} not acknowledged within 60 s")


def _consumer(**extra: Any) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap(), "group.id": f"bench-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, **extra})


def _assign_at_end(consumer: Consumer, topic: str) -> None:
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, consumer.get_watermark_offsets(
        TopicPartition(topic, p), timeout=10)[1]) for p in parts])


def read_alerts(topic: str, decode: Callable[[bytes], Ident], want: set[Ident],
                timeout: float = 10.0) -> set[Ident]:
    """Alert identities on ``topic`` from the beginning, until ``want`` is covered."""
    consumer = _consumer(**{"auto.offset.reset": "earliest"})
    got: set[Ident] = set()
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not want <= got:
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error() is None:
                    got.add(decode(msg.value()))
    finally:
        consumer.close()
    return got


def _ordercast_alert(value: bytes) -> Ident:
    a = REGISTRY.decode(value, expect="risk_alert")
    return a["rule"], a["key_value"], a["window_start"]


def _naive_alert(value: bytes) -> Ident:
    a = json.loads(value)
    return a["rule"], a["key_value"], a["window_start"]


# -- processes --------------------------------------------------------------------------

def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith((name + "{", name + " ")))


def progress(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/progress", timeout=5) as r:
        return float(json.loads(r.read())["observations"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Throughput:
    observations: float  # counted while timed
    seconds: float
    events_per_s: float
    cpu_cores: float  # the process's CPU use while timed (1.0 = one core busy)
    capped: bool

    @property
    def cpu_us_per_event(self) -> float:
        """CPU per event counted: unlike the rate, barely moved by other load on the
        machine.  Not known when capped: the process also worked on events not yet counted."""
        events = self.events_per_s * self.seconds
        if self.capped or not events:
            return math.nan
        return self.cpu_cores * self.seconds / events * 1e6


def count_rate(read: Callable[[], float], feed: Callable[[], None], target: float,
               obs_per_event: float, child: Child, cap_s: float,
               idle_timeout: float = 30.0) -> Throughput:
    """Publish the backlog (``feed``) to a process already consuming (its
    groups stable), and time it from the first event published until the count
    reaches ``target`` (or ``cap_s`` seconds later): events per second. Timed
    from the publish, not from the first count seen: a worker busy with a large
    batch answers no scrape until it is done, which would leave the batch out."""
    t0, cpu0 = time.monotonic(), cpu_seconds(child.proc.pid)
    feed()
    busy_at, cpu_then, capped = time.monotonic(), cpu0, False
    while True:
        time.sleep(0.1)  # a /metrics scrape costs the worker CPU: not too often
        child.check()
        count, now = read(), time.monotonic()
        if count >= target:
            break
        if now - t0 >= cap_s:
            capped = True
            break
        cpu = cpu_seconds(child.proc.pid)
        if cpu - cpu_then > 0.02:  # still working, even while the count stands still
            busy_at, cpu_then = now, cpu
        elif now - busy_at > idle_timeout:
            raise BenchError(f"{child.name} idle at {count:.0f}/{target:.0f} observations")
    seconds = now - t0
    return Throughput(count, seconds, count / obs_per_event / seconds,
                      (cpu_seconds(child.proc.pid) - cpu0) / seconds, capped)


@dataclass
class Run:
    children: Children
    scratch: Path
    run_id: str

    def prefix(self, name: str) -> str:
        return f"bench-risk-{self.run_id}-{name}."

    def app_id(self, name: str) -> str:
        return f"bench-risk-{self.run_id}-{name}"

    def worker(self, name: str, prefix: str, group: str | None = None) -> tuple[Child, int]:
        port = free_port()
        child = self.children.start(name, ["-m", "streams", "worker"], {
            "ORDERCAST_KAFKA_TOPIC_PREFIX": prefix,
            "ORDERCAST_APP_ID": self.app_id(group or name),
            # its own process and consumer group: counting never waits behind delivery
            "ORDERCAST_ROLE": "risk",
            "ORDERCAST_WEB_PORT": str(port),
            "ORDERCAST_DATA_DIR": str(self.scratch / "faust"),
            "ORDERCAST_AWS_ENDPOINT_URL": cfg.aws().endpoint_url or moto_url(),
            # moto's account quota is 1 email/s; taken as the send rate it would
            # leave every agent waiting behind the email queue
            "ORDERCAST_AWS_SES_MAX_SEND_RATE": "1000000",
            "ORDERCAST_AWS_SMS_MAX_SEND_RATE": "1000000",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        })
        return child, port

    def wait_consuming(self, child: Child, groups: Sequence[str], timeout: float = 90.0) -> None:
        """Until each consumer group is stable with a member: what is published
        from then on is taken at once, not after a group join."""
        def stable() -> bool:
            child.check()
            return all(group_members(g) > 0 for g in groups)

        wait_for(stable, timeout, f"{child.name}'s groups {groups} to be stable", 0.2)

    def wait_ready(self, child: Child, port: int, path: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not http_ok(f"http://127.0.0.1:{port}{path}"):
            child.check()
            if time.monotonic() > deadline:
                raise BenchError(f"{child.name} not ready after {timeout:.0f} s")
            time.sleep(0.2)


# -- phases 1 and 3: the ordercast worker ---------------------------------------------

def ordercast_phases(run: Run, stream: Stream, plan: Plan
                     ) -> tuple[Throughput, str, Latency]:
    """Throughput on the backlog, then latency on the same worker once it has
    settled: one topic namespace for both (a broker's partitions are not free)."""
    prefix = run.prefix("oc")
    topics.apply(prefix=prefix)
    child, port = run.worker("oc", prefix)
    try:
        run.wait_ready(child, port, "/readyz")
        app_id = run.app_id("oc")
        run.wait_consuming(child, [f"{app_id}-risk", f"{app_id}-risk-split"])
        result = count_rate(
            lambda: _safe(metric, port, OBSERVED),
            lambda: publish(full_name(PAYMENT_FAILED, prefix), stream.encoded),
            stream.observations, stream.observations / len(stream.events), child, plan.cap_s)
        alerts = read_alerts(full_name(RISK_ALERTS, prefix), _ordercast_alert,
                             set(stream.expected), 3.0 if result.capped else 10.0)
        settled = settle(child, plan.wait_s)
        run.wait_ready(child, port, "/readyz")
        latency = alert_latency(plan, prefix, [(child, port)], settled)
    finally:
        run.children.stop(child)
    return result, _match(alerts, stream.expected, result.capped), latency


def scaled_latency(run: Run, plan: Plan) -> Latency:
    """Alert latency again with two risk workers in one group (the role scales by
    partitions), on a fresh namespace so no state carries over."""
    prefix = run.prefix("oc2")
    topics.apply(prefix=prefix)
    workers = [run.worker(name, prefix, group="oc2") for name in ("oc2a", "oc2b")]
    try:
        stable_since = None
        deadline = time.monotonic() + 120
        while stable_since is None or time.monotonic() - stable_since < 3:
            if time.monotonic() > deadline:
                raise BenchError("two risk workers never settled into one group")
            ready = all(http_ok(f"http://127.0.0.1:{port}/readyz") for _, port in workers)
            stable_since = (stable_since or time.monotonic()) if ready else None
            for child, _ in workers:
                child.check()
            time.sleep(0.2)
        return alert_latency(plan, prefix, workers, True)
    finally:
        for child, _ in workers:
            run.children.stop(child)


def settle(child: Child, timeout: float, idle_cores: float = 0.15) -> bool:
    """Wait until the worker is done with the backlog (its CPU use drops), so the
    paced run does not queue behind it; False if it never did within ``timeout``."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(child.proc.pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        child.check()
        now = cpu_seconds(child.proc.pid)
        if now - before < idle_cores:
            return True
        before = now
    return False


def _safe(read: Callable[[int, str], float], port: int, name: str) -> float:
    try:
        return read(port, name)
    except OSError:  # the web server is not up yet
        return 0.0


def _match(got: set[Ident], expected: dict[Ident, str], capped: bool) -> str:
    if capped:
        return f"{len(got & set(expected))} of {len(expected)} (time cap)"
    extra, missing = len(got - set(expected)), len(set(expected) - got)
    if not extra and not missing:
        return f"all {len(expected)} match the reference"
    return f"{missing} missing, {extra} unexpected of {len(expected)}"


# -- phase 2: the naive Faust agent -----------------------------------------------------

def naive_throughput(run: Run, stream: Stream, cap_s: float) -> tuple[Throughput, str]:
    prefix = run.prefix("naive")
    topics.apply((_spec(PAYMENT_FAILED, "payment_failed"), _spec(NAIVE_ALERTS, "risk_alert")),
                 prefix=prefix)
    port = free_port()
    child = run.children.start("naive-faust", ["-m", "bench.risk", "--naive-worker"], {
        "BENCH_APP_ID": run.app_id("naive"),
        "BENCH_BOOTSTRAP": bootstrap(),
        "BENCH_TOPIC": full_name(PAYMENT_FAILED, prefix),
        "BENCH_ALERTS": full_name(NAIVE_ALERTS, prefix),
        "BENCH_WEB_PORT": str(port),
        "BENCH_DATA_DIR": str(run.scratch / "naive-faust"),
    })
    try:
        run.wait_ready(child, port, "/progress")
        run.wait_consuming(child, [run.app_id("naive")])
        result = count_rate(lambda: progress(port),
                            lambda: publish(full_name(PAYMENT_FAILED, prefix), stream.encoded),
                            stream.observations, stream.observations / len(stream.events),
                            child, cap_s)
        alerts = read_alerts(full_name(NAIVE_ALERTS, prefix), _naive_alert,
                             set(stream.expected), 3.0 if result.capped else 10.0)
    finally:
        run.children.stop(child)
    return result, _match(alerts, stream.expected, result.capped)


def _spec(name: str, schema: str) -> TopicSpec:
    return TopicSpec(name, schema, "bench", key="order id", retention_ms=HOUR_MS * 24)


def naive_worker() -> None:
    """The obvious Faust agent: decode, and for every rule key bump a tumbling
    windowed table in event time, alerting when the count reaches the threshold.
    It does not repartition by key, so it counts right only as a single worker:
    a generous baseline (ordercast pays for a by-key hop to scale out)."""
    from datetime import timedelta

    import faust

    env = os.environ
    app = faust.App(env["BENCH_APP_ID"], broker=f"kafka://{env['BENCH_BOOTSTRAP']}",
                    store="memory://", datadir=env["BENCH_DATA_DIR"], web_host="127.0.0.1",
                    web_bind="127.0.0.1", web_port=int(env["BENCH_WEB_PORT"]),
                    topic_partitions=8, consumer_auto_offset_reset="earliest")
    failed = app.topic(env["BENCH_TOPIC"], key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
    alerts = app.topic(env["BENCH_ALERTS"], key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw")
    size = DEFAULT_RULES[0].size_s
    if not all(r.window == "tumbling" and r.size_s == size for r in DEFAULT_RULES):
        raise BenchError("the naive agent knows one tumbling window size only")
    now = {"t": 0.0}  # event time of the event being processed, in seconds

    def event_time(event: object) -> float:
        return now["t"]

    expires = timedelta(seconds=2 * size)
    counts = app.Table("risk-counts", default=int).tumbling(
        size, expires=expires).relative_to(event_time)
    emails = app.Table("risk-emails", default=list).tumbling(
        size, expires=expires).relative_to(event_time)
    seen = {"observations": 0, "alerts": 0}

    @app.page("/progress")
    async def show_progress(web, request):
        return web.json(seen)

    @app.agent(failed, name="naive_risk")
    async def count(stream):
        async for value in stream:
            fields = fields_of(REGISTRY.decode(value, expect="payment_failed"))
            now["t"] = fields.occurred_at / 1000
            for rule, key in keys_for(fields, DEFAULT_RULES):
                if rule.kind == "count":
                    counts[key] += 1
                    reached = counts[key].value() == rule.threshold
                else:
                    members = emails[key].value()
                    reached = False
                    if fields.email not in members and len(members) < rule.threshold:
                        emails[key] = [*members, fields.email]
                        reached = len(members) + 1 == rule.threshold
                seen["observations"] += 1
                if reached:
                    seen["alerts"] += 1
                    start = int(now["t"] - now["t"] % size) * 1000
                    value_ = key.partition(":")[2]
                    await alerts.send(key=value_.encode(), value=json.dumps(
                        {"rule": rule.name, "key_value": value_, "window_start": start}).encode())

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


# -- phase 3: alert latency -------------------------------------------------------------

@dataclass(frozen=True)
class Latency:
    alerts: int
    missing: int
    unexpected: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    produced_p99_ms: float  # publish -> the worker's alert record timestamp
    published: int
    publish_rate: float  # achieved, events per second
    behind_s: float  # all events counted this long after the last one was published
    cpu_cores: float
    settled: bool  # the worker had finished the backlog before the paced run began


def alert_latency(plan: Plan, prefix: str, workers: list[tuple[Child, int]], settled: bool
                  ) -> Latency:
    events = paced_events(plan)
    # event times start once the reference is computed and the events encoded
    start_ms = int(time.time() * 1000) + 2000 + len(events) // 10
    stream = Stream.of(at(events, start_ms))
    if time.time() * 1000 > start_ms:
        raise BenchError("preparing the paced stream overran its lead time")
    oldest = start_ms - max(r.size_ms for r in DEFAULT_RULES)  # older: the backlog's
    watch = AlertWatch(full_name(RISK_ALERTS, prefix), stream.expected, oldest)
    watch.start()
    try:
        return _paced(stream, full_name(PAYMENT_FAILED, prefix), watch, workers, plan.wait_s,
                      settled)
    finally:
        watch.stop()


class AlertWatch(threading.Thread):
    """Records when each alert arrives, on its own thread: the publishing loop
    neither delays the reading nor is delayed by it."""

    def __init__(self, topic: str, expected: dict[Ident, str], oldest: int) -> None:
        super().__init__(name="alert-watch", daemon=True)
        self.expected, self.oldest = expected, oldest
        self.arrived: dict[Ident, tuple[float, float]] = {}  # first arrival, record timestamp
        self.unexpected: set[Ident] = set()
        self._stop_flag = threading.Event()
        self._consumer = _consumer(**{"fetch.wait.max.ms": 10})
        _assign_at_end(self._consumer, topic)

    def run(self) -> None:
        try:
            while not self._stop_flag.is_set():
                # poll returns with the first message; consume(n, t) would wait
                # out t unless n messages came, and count the wait as latency
                first = self._consumer.poll(0.05)
                if first is None:
                    continue
                at = time.time()
                for msg in [first, *self._consumer.consume(200, timeout=0)]:
                    if msg.error() is None:
                        self._record(msg, at)
        finally:
            self._consumer.close()

    def _record(self, msg: Any, at: float) -> None:
        ident = _ordercast_alert(msg.value())
        if ident[2] < self.oldest:
            return  # a late alert from the backlog
        if ident not in self.expected:
            self.unexpected.add(ident)
        elif ident not in self.arrived:
            self.arrived[ident] = (at, msg.timestamp()[1] / 1000)

    def stop(self) -> None:
        self._stop_flag.set()
        self.join(10)


def _paced(stream: Stream, topic: str, watch: AlertWatch, workers: list[tuple[Child, int]],
           wait_s: float, settled: bool) -> Latency:
    """Publish each (encoded) event at its event time; ``watch`` sees the alerts.
    The loop sleeps until the next event is due: a spinning load generator would
    take CPU from the worker it measures on a small machine."""
    crossing: dict[str, list[Ident]] = {}  # one event may cross several rules' thresholds
    for ident, event_id in stream.expected.items():
        crossing.setdefault(event_id, []).append(ident)
    producer = Producer({"bootstrap.servers": bootstrap(), "linger.ms": 1, "acks": "all"})
    published_at: dict[Ident, float] = {}

    def cpu() -> float:
        return sum(cpu_seconds(child.proc.pid) for child, _ in workers)

    def observed() -> float:
        return sum(_safe(metric, port, OBSERVED) for _, port in workers)

    def check() -> None:
        for child, _ in workers:
            child.check()

    cpu0, wall0 = cpu(), time.monotonic()
    target = observed() + stream.observations
    events, n, i = stream.events, len(stream.events), 0
    due_s = [e["envelope"]["occurred_at"] / 1000 for e in events]
    first = last = 0.0
    next_check = time.monotonic() + 1.0
    while i < n:
        now = time.time()
        while i < n and due_s[i] <= now:
            key, value = stream.encoded[i]
            producer.produce(topic, value, key)
            last = time.time()
            first = first or last
            for ident in crossing.get(events[i]["envelope"]["event_id"], ()):
                published_at[ident] = last
            i += 1
        producer.poll(0)
        if time.monotonic() >= next_check:
            check()
            next_check = time.monotonic() + 1.0
        if i < n:
            time.sleep(max(0.0, min(0.01, due_s[i] - time.time())))
    if producer.flush(30):
        raise BenchError("paced events not acknowledged within 30 s")
    counted_at = None
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if counted_at is None and observed() >= target:
            counted_at = time.time()
        if counted_at is not None and len(watch.arrived) == len(stream.expected):
            break
        check()
        time.sleep(0.05)  # polling for completion with a deadline
    cores = (cpu() - cpu0) / (time.monotonic() - wall0)
    arrived = dict(watch.arrived)
    lost = [math.inf] * (len(stream.expected) - len(arrived))  # slower than wait_s
    waits = sorted([(arrived[k][0] - published_at[k]) * 1000 for k in arrived] + lost)
    produced = sorted([(arrived[k][1] - published_at[k]) * 1000 for k in arrived] + lost)
    return Latency(
        alerts=len(arrived), missing=len(stream.expected) - len(arrived),
        unexpected=len(watch.unexpected), p50_ms=_r(percentile(waits, 50)),
        p99_ms=_r(percentile(waits, 99)), max_ms=_r(waits[-1] if waits else math.nan),
        produced_p99_ms=_r(percentile(produced, 99)), published=n,
        publish_rate=round(n / (last - first), 1) if last > first else 0.0,
        behind_s=_r(counted_at - last if counted_at else math.inf, 3),
        cpu_cores=round(cores, 2), settled=settled)


def _r(x: float, digits: int = 1) -> float:
    return round(x, digits)


# -- report -----------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    import faust

    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "faust": faust.__version__, "platform": platform.platform(),
            "loadavg_1m_start": round(os.getloadavg()[0], 2),
            "cpu_pressure_start": cpu_pressure()}


def cpu_pressure() -> float | None:
    """Share of the last 60 s in which runnable tasks waited for a CPU (Linux PSI)."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(some.split("avg60=")[1].split()[0])


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c}" for a, b, c in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.risk", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short form (about a minute)")
    parser.add_argument("--rate", type=float, help="payment failures/s in the latency phase")
    parser.add_argument("--seconds", type=float, help="length of the latency phase")
    parser.add_argument("--keep-logs", action="store_true", help="print the scratch directory")
    parser.add_argument("--naive-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_worker:
        naive_worker()
        return 0
    plan = QUICK if args.quick else FULL
    if args.rate or args.seconds:
        plan = Plan(**{**asdict(plan), "rate": args.rate or plan.rate,
                       "latency_s": args.seconds or plan.latency_s})

    if not kafka_ready(5.0):
        print(f"bench risk: Kafka at {bootstrap()} is not reachable; start it with "
              "`ordercast stack up`", file=sys.stderr)
        return 2
    if not moto_ready():
        print(f"bench risk: moto at {moto_url()} is not reachable; start it with "
              "`ordercast stack up`",
              file=sys.stderr)
        return 2

    info = machine()
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="bench-risk-"))
    run_id = uuid.uuid4().hex[:8]
    try:
        with sigterm_as_interrupt(), Children(scratch) as children:
            run = Run(children, scratch, run_id)
            stream = backlog(plan, int(time.time() * 1000))
            _progress(began, f"backlog: {len(stream.events)} payment failures, "
                      f"{stream.observations} observations, {len(stream.expected)} alerts")
            oc, oc_alerts, lat = ordercast_phases(run, stream, plan)
            _progress(began, f"ordercast: {oc.events_per_s:.0f} events/s; alert latency: "
                      f"{lat.alerts} alerts arrived, {lat.missing} lost")
            lat2 = scaled_latency(run, plan)
            _progress(began, f"two risk workers: alert p99 {lat2.p99_ms:.0f} ms")
            naive, naive_alerts = naive_throughput(run, stream, plan.cap_s)
            _progress(began, f"naive Faust: {naive.events_per_s:.0f} events/s")
    except KeyboardInterrupt:
        print("bench risk: interrupted; every child stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench risk: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep_logs:
            print(f"logs: {scratch}", file=sys.stderr)
        delete_topics_under(f"bench-risk-{run_id}")  # the broker holds every topic's files

    info["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    info["cpu_pressure_end"] = cpu_pressure()
    report(plan, stream, oc, oc_alerts, naive, naive_alerts, lat, lat2)
    print(json.dumps({
        "alert_p99_ms": _finite(lat.p99_ms), "alert_p50_ms": _finite(lat.p50_ms),
        "alert_max_ms": _finite(lat.max_ms), "alerts": lat.alerts + lat.missing,
        "alert_p99_ms_2w": _finite(lat2.p99_ms), "alert_p50_ms_2w": _finite(lat2.p50_ms),
        "alerts_lost_2w": lat2.missing, "rate_per_s_2w": lat2.publish_rate,
        "behind_after_publish_s_2w": _finite(lat2.behind_s),
        "alerts_lost": lat.missing, "alert_produced_p99_ms": _finite(lat.produced_p99_ms),
        "risk_events_per_s": round(oc.events_per_s, 1),
        "naive_faust_risk_events_per_s": round(naive.events_per_s, 1),
        "ratio": _finite(round(_ratio(oc, naive), 2)), "n_events": len(stream.events),
        "rate_per_s": lat.publish_rate, "latency_events": lat.published,
        "behind_after_publish_s": _finite(lat.behind_s),
        "risk_cpu_us_per_event": _finite(round(oc.cpu_us_per_event, 1)),
        "naive_cpu_us_per_event": _finite(round(naive.cpu_us_per_event, 1)),
        "risk_capped": oc.capped, "naive_capped": naive.capped,
        "worker_cpu_cores": round(oc.cpu_cores, 2), "naive_cpu_cores": round(naive.cpu_cores, 2),
        "latency_worker_cpu_cores": lat.cpu_cores, "latency_after_backlog_settled": lat.settled,
        "quick": args.quick,
        "seconds": round(time.monotonic() - began, 1), **info,
    }))
    return 0


def _progress(began: float, what: str) -> None:
    print(f"[{time.monotonic() - began:5.0f} s] {what}", file=sys.stderr)


def _ratio(oc: Throughput, naive: Throughput) -> float:
    return oc.events_per_s / naive.events_per_s if naive.events_per_s else math.nan


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no infinity: null = not measured


def _per_event(x: float) -> str:
    return f", {x:,.0f} us per event" if math.isfinite(x) else ""


def _ms(x: float, wait_s: float) -> str:
    return f"{x:,.1f} ms" if math.isfinite(x) else f"> {wait_s:.0f} s"


def report(plan: Plan, stream: Stream, oc: Throughput, oc_alerts: str, naive: Throughput,
           naive_alerts: str, lat: Latency, lat2: Latency) -> None:
    w = plan.wait_s
    behind = f"{lat.behind_s:.2f} s" if math.isfinite(lat.behind_s) else f"more than {w:.0f} s"
    print(table([
        ("measure", "value", "detail"),
        ("ordercast risk throughput", f"{oc.events_per_s:,.0f} ev/s",
         f"{oc.observations:,.0f}/{stream.observations:,} obs in {oc.seconds:.1f} s, worker "
         f"CPU {oc.cpu_cores:.2f} cores{_per_event(oc.cpu_us_per_event)}; alerts: {oc_alerts}"),
        ("naive Faust risk throughput", f"{naive.events_per_s:,.0f} ev/s",
         f"{naive.observations:,.0f}/{stream.observations:,} obs in {naive.seconds:.1f} s, "
         f"CPU {naive.cpu_cores:.2f} cores{_per_event(naive.cpu_us_per_event)}; "
         f"alerts: {naive_alerts}"),
        ("ratio ordercast/naive", f"{_ratio(oc, naive):.2f}x", "goal >= 2x"),
        (f"alert latency at {lat.publish_rate:,.0f}/s", f"p99 {_ms(lat.p99_ms, w)}",
         f"p50 {_ms(lat.p50_ms, w)}, max {_ms(lat.max_ms, w)}; {lat.alerts} alerts arrived, "
         f"{lat.missing} lost (> {w:.0f} s), {lat.unexpected} unexpected; goal p99 <= 100 ms"),
        ("  publish -> alert produced", f"p99 {_ms(lat.produced_p99_ms, w)}",
         f"{lat.published:,} events; all counted {behind} after the last publish; worker "
         f"CPU {lat.cpu_cores:.2f} cores" + ("" if lat.settled else
                                            "; the worker was still busy with the backlog")),
        (f"  two risk workers at {lat2.publish_rate:,.0f}/s", f"p99 {_ms(lat2.p99_ms, w)}",
         f"p50 {_ms(lat2.p50_ms, w)}, max {_ms(lat2.max_ms, w)}; {lat2.alerts} alerts arrived, "
         f"{lat2.missing} lost; both workers' CPU {lat2.cpu_cores:.2f} cores"),
    ]))


if __name__ == "__main__":
    raise SystemExit(main())
