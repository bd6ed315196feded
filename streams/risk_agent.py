"""The risk agent: failed payments, repartitioned by each rule's key (IP, email),
counted in event-time windows kept in a changelogged table.

Hop 1 (`risk_split`) reads payment_failed and sends each (rule, key)
observation to the by-key partition of its key, bundled per partition per
batch: all of one key's events meet on one partition, in order. Hop 2
(`risk_count`) takes them in small batches, runs the pure engine
(streams.risk) and writes each touched key's state back once per batch.
An alert goes out on the update that crosses the threshold, not at window
close, with a deterministic alert id (a replay repeats the id, never invents
a new alert), and becomes an operator email.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import defaultdict
from functools import lru_cache

from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import context, metrics
from . import settings as cfg
from .app import app
from .catalog import RISK_ALERTS, RISK_BY_KEY, channel_topic
from .changelog import ChangelogWriter
from .clock import now_ms
from .risk import (
    DEFAULT_RULES,
    EventFields,
    KeyState,
    RuleError,
    build_overrides,
    expires_at,
    fields_of,
    keys_for,
    observe,
    rule_for,
)
from .routing import risk_alert_requests
from .wire import lifecycle_topic, raw_topic

log = logging.getLogger(__name__)



payment_failed = lifecycle_topic("payment_failed")
by_key = raw_topic(RISK_BY_KEY)
alerts_topic = raw_topic(RISK_ALERTS)
email_topic = raw_topic(channel_topic("email"))
risk_state = app.Table("risk-state", default=None,
                       help="rule:key -> open windows (streams.risk.KeyState dict)")
# ~3 state writes per payment failure: through librdkafka, not faust's producer
changelog = ChangelogWriter(app, cfg.kafka().bootstrap)
_watermark = {"ms": 0}  # newest event time seen here: windows expire on event time


@lru_cache(maxsize=1)
def overrides():
    return build_overrides(cfg.worker().risk_overrides, DEFAULT_RULES)


def partition_of(key: bytes, partitions: int) -> int:
    """The by-key partition of a risk key: a stable hash, so all of one key's
    observations (and its changelogged state) meet on one partition. CRC-32
    runs in C; murmur2 in pure Python cost more than the counting."""
    return zlib.crc32(key) % partitions


@app.agent(payment_failed, name="streams.risk_agent.risk_split")
async def risk_split(stream):
    """One message per by-key partition per batch, not one per observation:
    the per-message cost of Kafka and faust dominates the counting itself."""
    partitions = cfg.kafka().partitions
    topic = by_key.get_topic_name()
    async for events in stream.take_events(1000, within=0.02):
        bundles: dict[int, list] = defaultdict(list)
        for event in events:
            try:
                record = REGISTRY.decode(event.value, expect="payment_failed")
            except DecodeError:
                continue  # the router dead-letters it
            fields = fields_of(record)
            for _rule, key in keys_for(fields, DEFAULT_RULES, overrides()):
                bundles[partition_of(key.encode(), partitions)].append([key, *fields])
        # faust acks the batch once this body is done and flushes the producer
        # before committing, so the bundles are durable before the offsets.
        # Straight to aiokafka, not through faust's send_soon buffer: that one
        # task drains every buffered record one by one and fell seconds behind.
        for partition, items in bundles.items():
            await app.producer.send(topic, None, json.dumps(
                items, separators=(",", ":")).encode(), partition, None, None)


def _observations(events):
    for event in events:
        for key, *fields in json.loads(event.value):
            yield event.message.partition, key, EventFields(*fields)


@app.agent(by_key, name="streams.risk_agent.risk_count")
async def risk_count(stream):
    async for events in stream.take_events(1000, within=0.02):
        touched: dict[str, tuple[int, KeyState]] = {}
        for partition, key, fields in _observations(events):
            try:
                rule = rule_for(key, DEFAULT_RULES, overrides())
            except RuleError:
                continue  # the rule was removed from the configuration
            _watermark["ms"] = max(_watermark["ms"], fields.occurred_at)
            current = touched[key][1] if key in touched else risk_state.data.get(key)
            new, alerts = observe(current, rule, key, fields, now_ms())
            touched[key] = (partition, new)
            metrics.RISK_OBSERVED.labels(rule.name).inc()
            for alert in alerts:
                await _raise(alert)
        # Alerts and state are queued before faust acks the batch, and flushed
        # before it commits: a kill never keeps the offsets and loses the counts.
        for key, (partition, new) in touched.items():
            # the partition rides along so the expiry sweep can write tombstones
            changelog.put(risk_state, partition, key, {**new.to_dict(), "_p": partition})


async def _raise(alert: dict) -> None:
    await alerts_topic.send(key=alert["key_value"].encode(),
                            value=REGISTRY.encode("risk_alert", alert, check=False))
    metrics.RISK_ALERTS.labels(alert["rule"]).inc()
    log.warning("risk alert %s: %d events in window starting %d", alert["rule"],
                alert["count"], alert["window_start"])
    merchants = context.merchants()
    for merchant_id in alert["merchant_ids"][:3]:
        for request in risk_alert_requests(alert, merchants[merchant_id]):
            await email_topic.send(key=request["recipient_id"].encode(), value=REGISTRY.encode(
                "notification_request", request, check=False))
            metrics.ROUTED.labels(request["template"], request["category"],
                                  request["priority"], request["channel"]).inc()


@app.timer(interval=60.0)
async def expire_risk_state() -> None:
    """Delete keys whose windows all closed (on event time), keeping state bounded."""
    horizon = _watermark["ms"] - 60_000  # margin for events still in flight
    for key, value in list(risk_state.data.items()):
        if value is None:
            continue
        try:
            rule = rule_for(key, DEFAULT_RULES, overrides())
        except RuleError:
            rule = None
        if rule is None or expires_at(value, rule) < horizon:
            changelog.drop(risk_state, value["_p"], key)
