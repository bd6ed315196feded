"""The risk agent: failed payments, repartitioned by each rule's key (IP, email),
counted in event-time windows kept in a changelogged table.

Hop 1 (`RiskSplit`, on librdkafka: streams.risk_split) reads payment_failed
and sends each (rule, key) observation to the by-key partition of its key,
bundled per partition per batch: all of one key's events meet on one
partition, in order. Hop 2 (`risk_count`, a faust agent with the changelogged
table) takes them in small batches, runs the pure engine
(streams.risk) and writes each touched key's state back once per batch.
Bundles for by-key partitions this worker owns are also handed over in-process
as soon as they are acknowledged (`hand_over`), so an alert does not wait for
faust to fetch them back; an offset fence counts each bundle once either way.
An alert goes out on the update that crosses the threshold, not at window
close, with a deterministic alert id (a replay repeats the id, never invents
a new alert), and becomes an operator email.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache, partial

import orjson
from faust.types import TP

from schemas.codec import REGISTRY
from schemas.exceptions import DecodeError

from . import context, metrics, state
from . import settings as cfg
from .app import app, changelog  # ~3 state writes per payment failure, and the alerts
from .catalog import LIFECYCLE, RISK_ALERTS, RISK_BY_KEY, channel_topic, full_name
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
from .risk_split import OffsetFence, SplitService, Splitter
from .routing import risk_alert_requests
from .wire import raw_topic

log = logging.getLogger(__name__)



PAYMENT_FAILED = next(s.name for s in LIFECYCLE if s.schema == "payment_failed")
by_key = raw_topic(RISK_BY_KEY)
alerts_topic = raw_topic(RISK_ALERTS)
email_topic = raw_topic(channel_topic("email"))
risk_state = app.Table("risk-state", default=None,
                       help="rule:key -> open windows (streams.risk.KeyState dict)")
_watermark = {"ms": 0}  # newest event time seen here: windows expire on event time


@lru_cache(maxsize=1)
def overrides():
    return build_overrides(cfg.worker().risk_overrides, DEFAULT_RULES)


def partition_of(key: bytes, partitions: int) -> int:
    """The by-key partition of a risk key: a stable hash, so all of one key's
    observations (and its changelogged state) meet on one partition. CRC-32
    runs in C; murmur2 in pure Python cost more than the counting."""
    return zlib.crc32(key) % partitions


def split(values: Sequence[bytes], partitions: int) -> dict[int, bytes]:
    """Failed payments -> one bundle per by-key partition: the (rule, key)
    observations of the batch whose key hashes there, in order. One record per
    partition per batch, not one per observation: Kafka's per-record cost
    dominates the counting itself."""
    bundles: dict[int, list] = defaultdict(list)
    for value in values:
        try:
            record = REGISTRY.decode(value, expect="payment_failed")
        except DecodeError:
            continue  # the router dead-letters it
        fields = fields_of(record)
        for _rule, key in keys_for(fields, DEFAULT_RULES, overrides()):
            bundles[partition_of(key.encode(), partitions)].append([key, *fields])
    return {p: orjson.dumps(items) for p, items in bundles.items()}


fence = OffsetFence()


def hand_over(acked) -> None:
    """Count the split's acknowledged bundles at once, for the by-key partitions
    this worker owns with its state recovered, without waiting for faust to
    fetch them back (the topic way then skips them). Synchronous on the event
    loop: no rebalance can come between the ownership check and the writes."""
    if app.rebalancing or app.in_recovery:
        return
    actives, topic = app.assignor.assigned_actives(), by_key.get_topic_name()
    mine = [(partition, value) for partition, offset, value in acked
            if TP(topic, partition) in actives
            and fence.next_in_line(app.rebalancing_count, partition, offset)]
    count(_observations(mine))


@app.service
class RiskSplit(SplitService):
    splitter = Splitter(
        bootstrap=cfg.kafka().bootstrap, group=f"{app.conf.id}-split", seed_group=app.conf.id,
        source=full_name(PAYMENT_FAILED), target=by_key.get_topic_name(),
        split=partial(split, partitions=cfg.kafka().partitions), lag_name=PAYMENT_FAILED,
        window_s=cfg.worker().risk_split_batch_ms / 1000)
    hand_over = hand_over


def _observations(records):
    for partition, value in records:
        for key, *fields in orjson.loads(value):
            yield partition, key, EventFields(*fields)


def count(observations) -> None:
    """Run the rules over the observations, publish the alerts they raise (and
    their operator emails) and write each touched key's state back once.
    Synchronous: the two ways into it (hand-over and topic) never interleave
    half-way. The state records wait for the alerts' and emails'
    acknowledgements (``hold``): the state that says an alert was raised is
    never durable before the alert."""
    touched: dict[str, tuple[int, KeyState]] = {}
    sent: list = []  # acknowledgement futures of this call's alerts and emails
    observed: Counter[str] = Counter()  # per rule: one metric update per call, not per event
    for partition, key, fields in observations:
        try:
            rule = rule_for(key, DEFAULT_RULES, overrides())
        except RuleError:
            continue  # the rule was removed from the configuration
        _watermark["ms"] = max(_watermark["ms"], fields.occurred_at)
        current = touched[key][1] if key in touched else risk_state.data.get(key)
        new, alerts = observe(current, rule, key, fields, now_ms())
        touched[key] = (partition, new)
        observed[rule.name] += 1
        for alert in alerts:
            sent += _publish(alert)
    for rule_name, n in observed.items():
        metrics.RISK_OBSERVED.labels(rule_name).inc(n)
    # Alerts and state are queued before faust acks the batch, and flushed
    # before it commits: a kill never keeps the offsets and loses the counts.
    changelog.hold(risk_state, sent)
    for key, (partition, new) in touched.items():
        # the partition rides along so the expiry sweep can write tombstones
        changelog.put(risk_state, partition, key, {**new.to_dict(), "_p": partition})


@app.agent(by_key, name="streams.risk_agent.risk_count")
async def risk_count(stream):
    within = cfg.worker().risk_count_batch_ms / 1000
    async for events in stream.take_events(1000, within=within):
        fresh = [(e.message.partition, e.value) for e in events
                 if fence.first_time(app.rebalancing_count, e.message.partition,
                                     e.message.offset)]
        count(_observations(fresh))


def _publish(alert: dict) -> list:
    """Send the alert and its operator emails; their acknowledgement futures."""
    sent = [changelog.send_acked(alerts_topic.get_topic_name(), alert["key_value"].encode(),
                                 REGISTRY.encode("risk_alert", alert, check=False))]
    metrics.RISK_ALERTS.labels(alert["rule"]).inc()
    log.warning("risk alert %s: %d events in window starting %d", alert["rule"],
                alert["count"], alert["window_start"])
    merchants = context.merchants()
    for merchant_id in alert["merchant_ids"][:3]:
        for request in risk_alert_requests(alert, merchants[merchant_id]):
            sent.append(changelog.send_acked(
                email_topic.get_topic_name(), request["recipient_id"].encode(),
                REGISTRY.encode("notification_request", request, check=False)))
            metrics.ROUTED.labels(request["template"], request["category"],
                                  request["priority"], request["channel"]).inc()
    return sent


@app.timer(interval=60.0)
async def expire_risk_state() -> None:
    """Delete keys whose windows all closed (on event time), keeping state bounded."""
    horizon = _watermark["ms"] - 60_000  # margin for events still in flight
    async for key, value in state.entries(risk_state):
        try:
            rule = rule_for(key, DEFAULT_RULES, overrides())
        except RuleError:
            rule = None
        if rule is None or expires_at(value, rule) < horizon:
            changelog.drop(risk_state, value["_p"], key)
