"""Delivery agents: one per channel topic and one per retry tier.

Each notification id is recorded as in flight (durably, in a changelogged
table) before the provider call and as sent after it, so a restarted worker
never resends what the provider accepted; only sends that were in flight at
the instant of a crash are resent (counted in ordercast_ambiguous_resends_total).
Retriable failures move to the channel's next retry topic; permanent ones, or
the last retry, to its dead-letter topic; urgent ones fall back once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from faust.types import EventT

from channels.exceptions import DeliveryError
from channels.pii import mask_address, scrub
from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import dispatch, metrics, outbox, state
from . import settings as cfg
from .app import app, changelog
from .catalog import CHANNELS, RETRY_TIERS, channel_topic, retry_topic
from .clock import now_ms
from .render import TemplateProblem
from .routing import fallback_request
from .wire import raw_topic

log = logging.getLogger(__name__)

INFLIGHT, SENT = "inflight", "sent"
SLOW_S = 60.0  # a send in one stage for longer than this is logged as stuck


@dataclass
class Sending:
    """A send in progress in this process, and where it is: an SRE's first
    question about a worker that consumes but delivers nothing."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    stage: str = "starting"
    since: float = field(default_factory=time.monotonic)

    def enter(self, stage: str) -> None:
        self.stage, self.since = stage, time.monotonic()


_sending: dict[str, Sending] = {}  # ids being sent by this process right now
metrics.SENDING.set_function(lambda: len(_sending))
# written only through the librdkafka changelog writer, which keeps their order
sends = app.Table("sends", default=None,
                  help="notification id -> [inflight|sent, at ms, partition]")



async def deliver(event: EventT, channel: str) -> None:
    msg = event.message
    info = dispatch.read_retry_headers(msg.headers) or dispatch.RetryInfo(
        origin=(msg.topic, msg.partition, msg.offset))
    try:
        request = REGISTRY.decode(event.value, expect="notification_request")
    except DecodeError as exc:
        await outbox.dead_letter(channel, info, msg.key, event.value, exc.__class__.__name__,
                                 str(exc), None)
        return
    nid = request["notification_id"]
    while nid in _sending:  # the same id in another concurrent instance: let it finish
        await _sending[nid].done.wait()
    status = sends.get(nid)
    if status and status[0] == SENT:
        metrics.DEDUP_HITS.labels("delivery").inc()
        return
    if status and status[0] == INFLIGHT:
        metrics.AMBIGUOUS.labels(channel).inc()  # crashed mid-send: resend, count it
    sending = _sending[nid] = Sending()
    try:
        await _attempt(event, request, info, channel, sending)
    finally:
        _sending.pop(nid).done.set()


async def _attempt(event: EventT, request, info: dispatch.RetryInfo, channel: str,
                   sending: Sending) -> None:
    msg = event.message
    nid = request["notification_id"]
    try:
        sender = outbox.channel(channel)
        sending.enter("render")
        message = await outbox.message_for(request)
    except (DeliveryError, TemplateProblem) as exc:  # nothing was sent: no in-flight mark
        sending.enter("failed")
        await _failed(outbox.as_delivery_error(exc), request, info, event, channel, channel)
        return
    sending.enter("in-flight mark")
    # tuples: kept by the million, they leave the collector's view after one pass
    await changelog.put_acked(sends, msg.partition, nid, (INFLIGHT, now_ms(), msg.partition))
    sending.enter("provider")
    try:
        receipt = await sender.send(message)
    except DeliveryError as exc:
        changelog.drop(sends, msg.partition, nid)
        if exc.ambiguous and exc.retriable:  # the provider may have it: a retry may duplicate
            metrics.AMBIGUOUS.labels(channel).inc()
        sending.enter("failed")
        await _failed(exc, request, info, event, channel, sender.provider)
        return
    sending.enter("result")
    changelog.put(sends, msg.partition, nid, (SENT, receipt.accepted_at, msg.partition))
    latency_ms = max(0, receipt.accepted_at - request["occurred_at"])
    metrics.ATTEMPTS.labels(channel, sender.provider, "ok").inc()
    metrics.DELIVERIES.labels(channel, sender.provider, "delivered").inc()
    metrics.LATENCY.labels(channel).observe(latency_ms / 1000)
    await outbox.result(request, sender.provider, "delivered", info.attempt, latency_ms,
                        provider_message_id=receipt.provider_message_id)


async def _failed(exc: DeliveryError, request, info: dispatch.RetryInfo, event: EventT,
                  channel: str, provider: str) -> None:
    msg = event.message
    now = now_ms()
    metrics.ATTEMPTS.labels(channel, provider,
                            "retriable_error" if exc.retriable else "permanent_error").inc()
    step = dispatch.after_failure(exc, request, info.attempt, cfg.worker().retry_delays_s, now)
    first = info.first_failure_ms or now
    where = f"{msg.topic}[{msg.partition}]@{msg.offset}"
    if isinstance(step, dispatch.Retry):
        nxt = dispatch.RetryInfo(info.attempt + 1, step.due_ms, first, info.origin)
        await retry_topics[channel][step.tier].send(
            key=msg.key, value=event.value, headers=dispatch.retry_headers(nxt, exc))
        metrics.RETRIES.labels(channel, str(step.tier)).inc()
        log.info("retry %d for %s order %s after %s", step.tier, where,
                 _order(request), exc.error_class)
        return
    await outbox.dead_letter(channel, info, msg.key, event.value, exc.error_class, str(exc),
                             request, first_failure_ms=first)
    metrics.DELIVERIES.labels(channel, provider, "dead_lettered").inc()
    await outbox.result(request, provider, "dead_lettered", info.attempt,
                        max(0, now - request["occurred_at"]), error=exc)
    log.warning("dead-lettered %s order %s to %s: %s: %s", where, _order(request),
                mask_address(request["address"]), exc.error_class, exc)
    if step.fallback:
        fb = fallback_request(request, step.fallback)
        await channel_topics[fb["channel"]].send(
            key=msg.key, value=REGISTRY.encode("notification_request", fb, check=False))
        metrics.FALLBACKS.labels(channel, fb["channel"]).inc()


async def deliver_safely(event: EventT, channel: str) -> None:
    """A bug or odd data in one message must not stop the channel: dead-letter it."""
    try:
        await deliver(event, channel)
    except KafkaError:
        raise  # the broker, not the message: let faust retry / restart
    except Exception as exc:
        msg = event.message
        log.error("unexpected %s on %s[%d]@%d", type(exc).__name__, msg.topic, msg.partition,
                  msg.offset)
        info = dispatch.read_retry_headers(msg.headers) or dispatch.RetryInfo(
            origin=(msg.topic, msg.partition, msg.offset))
        await outbox.dead_letter(channel, info, msg.key, msg.value,
                                 f"DeliveryFailed.{type(exc).__name__}", scrub(str(exc))[:500],
                                 None)


def _order(request) -> str:
    order = request.get("order_id") or "-"
    return order[:4] + "…" if len(order) > 4 else order  # order ids stay out of logs


channel_topics = {ch: raw_topic(channel_topic(ch)) for ch in CHANNELS}
retry_topics = {ch: {t: raw_topic(retry_topic(ch, t)) for t in range(1, RETRY_TIERS + 1)}
                for ch in CHANNELS}


def _agents(channel: str) -> None:
    concurrency = cfg.aws().concurrency

    async def send(stream):
        async for event in stream.events():
            await deliver_safely(event, channel)

    async def retry(stream):
        async for event in stream.events():
            info = dispatch.read_retry_headers(event.message.headers)
            wait = ((info.due_ms if info else 0) - now_ms()) / 1000
            if wait > 0:  # the other concurrent instances keep other partitions going
                await asyncio.sleep(wait)
            await deliver_safely(event, channel)

    app.agent(channel_topics[channel], name=f"streams.delivery.send_{channel}",
              concurrency=concurrency)(_named(send, f"send_{channel}"))
    for tier, topic in retry_topics[channel].items():
        app.agent(topic, name=f"streams.delivery.retry_{channel}_{tier}",
                  concurrency=concurrency)(_named(retry, f"retry_{channel}_{tier}"))


def _named(fn, name: str):
    async def agent(stream):
        await fn(stream)

    agent.__name__ = agent.__qualname__ = name
    return agent


for _ch in CHANNELS:
    _agents(_ch)


@app.task
async def adopt_ses_quota() -> None:
    """With no configured SES rate, take the account's own (GetSendQuota)."""
    if cfg.aws().ses_max_send_rate is None:
        rate = await outbox.channel("email").adopt_quota()
        log.info("SES send rate from the account quota: %s/s", rate)


def stuck(sendings: Iterable[Sending], now: float, slow_s: float = SLOW_S) -> str | None:
    """A line for the log about sends in one stage for over ``slow_s``, or None."""
    ages = sorted((now - s.since, s.stage) for s in sendings if now - s.since > slow_s)
    if not ages:
        return None
    by_stage = Counter(stage for _, stage in ages)
    return (f"{len(ages)} sends stuck for over {slow_s:.0f} s ("
            + ", ".join(f"{n} in {k!r}" for k, n in by_stage.most_common())
            + f"); the oldest in {ages[-1][1]!r} for {ages[-1][0]:.0f} s")


@app.timer(interval=30.0)
async def report_stuck_sends() -> None:
    if line := stuck(_sending.values(), time.monotonic()):
        log.warning(line)


@app.timer(interval=300.0)
async def expire_sends() -> None:
    """Forget delivered ids after the dedup TTL, so the table stays bounded."""
    cutoff = now_ms() - int(cfg.worker().dedup_ttl_h * 3_600_000)
    async for key, value in state.entries(sends):
        if value[1] < cutoff:
            changelog.drop(sends, value[2], key)
