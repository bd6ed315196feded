"""``python -m bench delivery``: one ordercast worker delivering email against
the fake SES endpoint, next to the boto3 ceiling (a tight loop of
``sesv2.send_email`` on one shared client and a thread pool of the same
concurrency, same endpoint, same messages), the lean pipeline of
``bench.lean`` (the same per-send work without faust: how close any worker
design could get) and the rate-limited run.

Notification requests go straight onto ``{prefix}ordercast.notify.email``, so
only delivery (decode, dedup, render, send, record) is timed.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.codec import REGISTRY
from streams.catalog import BY_NAME, RESULTS, channel_topic, full_name

from . import kafka
from .contenders import Spy
from .context import Bench, Drained
from .events import email_requests, order_events
from .measure import Rate


@dataclass(frozen=True)
class DeliveryRun:
    name: str
    rate: Rate
    cpu_ms_per_event: float
    note: str = ""


def requests_for(n: int, first: int = 1) -> list[dict[str, Any]]:
    return list(email_requests(order_events(n, first=first)))


def send_kwargs(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``SendEmail`` arguments ordercast builds for these requests (rendered
    with its own templates and channel), so the ceiling sends the same bytes."""
    from channels.email_ses import SesEmailChannel
    from streams import context
    from streams.dispatch import to_message
    from streams.render import PARTS_BY_CHANNEL, Renderer

    renderer, merchants = Renderer(), context.merchants()
    channel = SesEmailChannel(sender="noreply@ordercast.example", endpoint_url="http://127.0.0.1:9",
                              region="us-east-1")
    out = []
    for r in requests:
        merchant = merchants[r["merchant_id"]]
        rendered = renderer.render(r["template"], r["locale"], merchant, r["variables"],
                                   parts=PARTS_BY_CHANNEL["email"])
        out.append(channel.request(to_message(r, rendered, merchant.sender_email)))
    return out


def boto3_ceiling(b: Bench, kwargs: list[dict[str, Any]]) -> DeliveryRun:
    """One shared sesv2 client, ``concurrency`` threads, no Kafka, no rendering."""
    from channels.aws import aws_client

    # the fake endpoint takes any key; the worker gets the same dummy pair
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    concurrency = b.budget.concurrency
    client = aws_client("sesv2", endpoint_url=b.provider.url, region="us-east-1",
                        concurrency=concurrency)
    client.send_email(**kwargs[0])  # connect and load the service model outside the timing
    b.provider.reset()
    cpu0, start = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client.send_email, **kw) for kw in kwargs]:
            future.result()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    client.close()
    n = len(kwargs)
    return DeliveryRun(f"boto3 ceiling: {concurrency} threads, one client",
                       Rate(n, seconds, n / seconds), cpu * 1000 / n)


def _feed(prefix: str, requests: list[dict[str, Any]]) -> None:
    topic = full_name(channel_topic("email"), prefix)
    kafka.publish_raw(topic, ((r["order_id"].encode(),
                               REGISTRY.encode("notification_request", r)) for r in requests))


def worker_delivery(b: Bench, requests: list[dict[str, Any]], name: str,
                    profile_dir: Path | None = None, **env: str) -> Drained:
    """One worker, started and ready before the requests are fed to it."""
    prefix, app_id = b.prefix(name), b.app_id(name)
    kafka.provision(prefix)
    # delivery runs in the notify role in production (risk has its own workers)
    child, port = b.worker(name, prefix, app_id, **{"ORDERCAST_ROLE": "notify", **env})
    try:
        b.wait_ready([(child, port)])
        from .procs import wait_for

        wait_for(lambda: kafka.group_members(app_id) == 1, 90, "a stable group", 0.3)
        b.wait_ready([(child, port)])
        b.provider.reset()
        _feed(prefix, requests)
        spy = Spy(child, profile_dir, name, 20.0)
        drained = b.drain(len(requests), [child], on_first=spy.start)
        spy.finish()
        return drained
    finally:
        b.children.stop(child)
        b.release(name)


def lean_delivery(b: Bench, requests: list[dict[str, Any]]) -> Drained:
    """bench.lean on the same requests: the worker's per-send work without faust."""
    from confluent_kafka.admin import NewTopic

    name = "lean"
    prefix = b.prefix(name)
    kafka.provision(prefix, [channel_topic("email"), RESULTS])
    topic = full_name(channel_topic("email"), prefix)
    marks = f"{prefix}sends"
    partitions = BY_NAME[channel_topic("email")].partitions  # what provision just created
    for future in kafka.admin().create_topics([NewTopic(
            marks, partitions, 1, config={"cleanup.policy": "compact"})]).values():
        future.result(30)
    b.provider.reset()
    _feed(prefix, requests)
    child = b.children.start(name, [
        "-m", "bench.lean", "--topic", topic, "--marks", marks,
        "--results", full_name(RESULTS, prefix), "--group", b.app_id(name),
        "--endpoint", b.provider.url, "--n", str(len(requests)),
        "--concurrency", str(b.budget.concurrency)],
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    try:
        return b.drain(len(requests), [child])
    finally:
        b.children.stop(child)
        b.release(name)


def limit_for(unlimited_per_s: float, wanted: float = 200.0) -> float:
    """The rate limit to test: ``wanted``, or half of what the worker does
    unlimited when that is slower, so the limiter (not the worker) sets the pace."""
    if unlimited_per_s >= 2 * wanted:
        return wanted
    return max(10.0, (unlimited_per_s / 2) // 10 * 10)


def run(b: Bench, n: int, limited_seconds: float,
        profile_dir: Path | None = None) -> dict[str, Any]:
    requests = requests_for(n)
    ceiling = boto3_ceiling(b, send_kwargs(requests))
    d = worker_delivery(b, requests, "dlv")
    delivered = DeliveryRun("ordercast worker: notify.email -> SES", d.rate,
                            d.cpu_ms_per_event)
    lean = lean_delivery(b, requests_for(n, first=800_000_001))
    leanest = DeliveryRun("lean pipeline: librdkafka + threads, no faust", lean.rate,
                          lean.cpu_ms_per_event, "yardstick, see bench/lean.py")
    if profile_dir is not None:  # an extra, untimed run under py-spy
        worker_delivery(b, requests, "dlvprof", profile_dir)
    limited_rate = limit_for(d.rate.per_s)
    limited_n = int(limited_rate * limited_seconds)
    ld = worker_delivery(b, requests_for(limited_n, first=700_000_001), "dlvrl",
                         ORDERCAST_AWS_SES_MAX_SEND_RATE=str(limited_rate))
    limited = DeliveryRun(f"ordercast worker, SES rate limit {limited_rate:g}/s", ld.rate,
                          ld.cpu_ms_per_event)
    return {"runs": [ceiling, delivered, leanest, limited],
            "delivery_per_s": delivered.rate.per_s, "lean_pipeline_per_s": lean.rate.per_s,
            "boto3_ceiling_per_s": ceiling.rate.per_s, "rate_limit_per_s": limited_rate,
            "rate_limited_per_s": ld.rate.per_s}
