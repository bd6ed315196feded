"""Router agents: one per lifecycle topic. Each decodes the Avro single-object
record (dead-lettering what cannot be decoded), applies the routing rules and
produces one notification request per recipient and channel.

State, all in changelogged tables partitioned like the lifecycle topics (keyed
by order id): the order's lifecycle state, its pending timers, and the event ids
already routed (so a redelivered or replayed event notifies nobody twice).
"""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError
from faust.types import EventT

from channels.pii import scrub
from schemas.codec import REGISTRY, Record
from schemas.exceptions import DecodeError
from schemas.faust_codec import register as register_avro

from . import context, deadletter, metrics, state
from . import settings as cfg
from .app import app
from .catalog import (
    CHANNELS,
    EVENTS_DLT,
    LIFECYCLE,
    PREFERENCES,
    TopicSpec,
    channel_topic,
)
from .clock import now_ms
from .routing import OrderState, Preferences, Timer, decide, fire, is_stale
from .wire import raw_topic

log = logging.getLogger(__name__)
register_avro()

events_dlt = raw_topic(EVENTS_DLT)
channel_topics = {ch: raw_topic(channel_topic(ch)) for ch in CHANNELS}

orders = app.Table("order-state", default=None, help="order id -> lifecycle state")
timers = app.Table("timers", default=None, help="timer id -> due timer (and its partition)")
routed = app.Table("routed-events", default=None, help="event id -> [routed at ms, partition]")
preferences = app.GlobalTable(
    "preferences", default=None, key_type=bytes, value_type=bytes,
    # without this faust's assignor dies silently on global tables (faust #438)
    synchronize_all_active_partitions=True,
    help="recipient id -> preferences record, on every worker")
preferences_topic = raw_topic(PREFERENCES)


@app.agent(preferences_topic, name="streams.router.materialise_preferences")
async def materialise_preferences(stream):
    """Copy the compacted preferences topic into the global table. (A global
    table cannot use that topic as its changelog: faust's assignor looks the
    changelog up by its default name.)"""
    async for event in stream.events():
        if event.value is None:
            preferences.pop(event.key, None)
        else:
            preferences[event.key] = event.value
        metrics.PREFERENCES.inc()


DEFERRED = "deferred"


async def dead_letter_event(event: EventT, error_class: str, reason: str) -> None:
    msg = event.message
    origin = deadletter.Origin(msg.topic, msg.partition, msg.offset, msg.key)
    value, headers = deadletter.build(origin, msg.value, error_class, reason, channel="ingest")
    await events_dlt.send(key=msg.key, value=value, headers=headers)
    metrics.DEAD_LETTERS.labels("ingest", error_class).inc()
    log.warning("dead-lettered %s[%d]@%d: %s: %s", msg.topic, msg.partition, msg.offset,
                error_class, reason)


async def decode_or_dead_letter(event: EventT, spec: TopicSpec) -> Record | None:
    try:
        return REGISTRY.decode(event.value, expect=spec.schema)
    except DecodeError as exc:
        await dead_letter_event(event, type(exc).__name__, str(exc))
        return None


def _preferences(recipient_id: str) -> Preferences | None:
    raw = preferences.get(recipient_id.encode())
    if not raw:
        return None
    try:
        return Preferences.from_record(REGISTRY.decode(raw, expect="preferences"))
    except DecodeError as exc:  # a bad record must not stop routing: use defaults
        log.warning("unreadable preferences for a recipient: %s", exc)
        return None


async def emit(request: dict, partition: int, now: int) -> None:
    """Send a request to its channel now, or park it until its not_before."""
    if request.get("not_before") and request["not_before"] > now:
        tid = f"{DEFERRED}:{request['notification_id']}"
        state.put(timers, partition, tid, {"kind": DEFERRED, "due_ms": request["not_before"],
                                           "order_id": request.get("order_id"),
                                           "request": request, "partition": partition})
        return
    key = (request.get("order_id") or request["recipient_id"]).encode()
    value = REGISTRY.encode("notification_request", request, check=False)
    await channel_topics[request["channel"]].send(key=key, value=value)
    metrics.ROUTED.labels(request["template"], request["category"], request["priority"],
                          request["channel"]).inc()


async def handle(record: Record, event: EventT) -> None:
    """Route one decoded lifecycle event."""
    env = record["envelope"]
    if routed.get(env["event_id"]) is not None:
        metrics.DEDUP_HITS.labels("routing").inc()
        return
    order_id = env.get("order_id")
    raw_state = orders.get(order_id) if order_id else None
    now = now_ms()
    decision = decide(record, OrderState.from_dict(raw_state) if raw_state else None,
                      _preferences(env["buyer"]["buyer_id"]),
                      context.merchants()[env["merchant_id"]], now,
                      event_type=record.schema, config=context.routing_config())
    partition = event.message.partition
    if order_id and decision.state is not None:
        orders[order_id] = decision.state.to_dict()
    for tid in decision.cancel_timer_ids:
        if timers.get(tid) is not None:
            del timers[tid]
    for timer in decision.timers:
        timers[timer.timer_id] = {**timer.to_dict(), "partition": partition}
    for request in decision.requests:
        await emit(request, partition, now)
    for request in decision.stale:
        metrics.SUPPRESSED.labels(request["template"]).inc()
    routed[env["event_id"]] = (now, partition)  # a tuple: the collector stops tracking it


def _agent_for(spec: TopicSpec):
    topic = raw_topic(spec.name)

    async def route(stream):
        async for event in stream.events():
            record = await decode_or_dead_letter(event, spec)
            if record is None:
                continue
            metrics.EVENTS.labels(spec.name, record.schema).inc()
            try:
                await handle(record, event)
            except KafkaError:
                raise  # the broker, not the event: let faust retry / restart
            except Exception as exc:  # a decodable event the rules cannot handle
                await dead_letter_event(event, f"RoutingFailed.{type(exc).__name__}",
                                        scrub(str(exc))[:500])

    route.__name__ = route.__qualname__ = f"route_{spec.schema}"
    return app.agent(topic, name=f"streams.router.route_{spec.schema}")(route)


AGENTS = [_agent_for(spec) for spec in LIFECYCLE]


@app.timer(interval=1.0)
async def fire_due_timers() -> None:
    """Fire timers whose time has come; a restarted worker finds them in the table."""
    now = now_ms()
    pending = [(k, v) for k, v in list(timers.data.items()) if v]
    metrics.TIMERS_PENDING.set(len(pending))
    due = [(k, v) for k, v in pending if v["due_ms"] <= now]
    for key, value in due:
        partition = value["partition"]
        raw_state = orders.data.get(value.get("order_id")) if value.get("order_id") else None
        order_state = OrderState.from_dict(raw_state) if raw_state else None
        if value["kind"] == DEFERRED:
            request = value["request"]
            requests = [] if is_stale(request["template"], order_state, now) else [request]
            if not requests:
                metrics.SUPPRESSED.labels(request["template"]).inc()
        else:
            timer = Timer.from_dict(value)
            env = timer.event["envelope"]
            requests = fire(timer, order_state, context.merchants()[env["merchant_id"]],
                            _preferences(env["buyer"]["buyer_id"]), now)
        for request in requests:
            request = {**request, "not_before": None}
            await emit(request, partition, now)
        state.drop(timers, partition, key)


@app.timer(interval=300.0)
async def expire_routed_events() -> None:
    """Forget routed event ids after the dedup TTL, so the table stays bounded."""
    cutoff = now_ms() - int(cfg.worker().dedup_ttl_h * 3_600_000)
    async for key, value in state.entries(routed):
        if value[0] < cutoff:
            state.drop(routed, value[1], key)
