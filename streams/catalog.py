"""The topic catalog: every topic ordercast reads or writes, in one list.

`ordercast topics apply` provisions it, the README prints it as the event
contract, and the Strimzi KafkaTopic manifests are generated from it.  Faust's
own internal topics (table changelogs, repartition topics) are created by the
worker and are not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 3600 * 1000
PARTITIONS = 8  # one count for every co-partitioned topic: tables need it
CHANNELS = ("email", "sms", "inapp", "webhook")
RETRY_TIERS = 3


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema: str  # short name of the .avsc in schemas/
    carries: str
    key: str
    partitions: int = PARTITIONS
    replicas: int = 3  # capped to the broker count when applied
    retention_ms: int = 7 * DAY_MS
    cleanup_policy: str = "delete"
    lifecycle: bool = False  # published by platform teams
    config: dict[str, str] = field(default_factory=dict)

    def topic_config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup_policy, **self.config}
        if self.cleanup_policy == "delete":
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


def _lifecycle(name: str, schema: str, carries: str) -> TopicSpec:
    return TopicSpec(name, schema, carries, key="order_id (buyer_id when no order)",
                     lifecycle=True)


LIFECYCLE = (
    _lifecycle("orders.created", "order_created", "An order placed, awaiting payment"),
    _lifecycle("orders.payment-succeeded", "payment_succeeded", "Payment captured"),
    _lifecycle("orders.payment-failed", "payment_failed", "A payment attempt failed"),
    _lifecycle("orders.card-key-ready", "card_key_ready",
               "Card keys allocated (reference only, never the key)"),
    _lifecycle("orders.refunds", "refund", "Refund started or completed"),
    _lifecycle("orders.exceptions", "order_exception",
               "Out of stock, payment failure, logistics delay, cancelled, address invalid"),
    _lifecycle("orders.logistics", "logistics_update", "Shipment status update"),
    _lifecycle("account.security", "account_security",
               "New-device login, funds change, password changed"),
    _lifecycle("shop.announcements", "system_announcement", "System announcement to buyers"),
    _lifecycle("shop.marketing", "marketing", "Promotion (buyers may opt out)"),
)


def channel_topic(channel: str) -> str:
    return f"ordercast.notify.{channel}"


def retry_topic(channel: str, tier: int) -> str:
    return f"ordercast.notify.{channel}.retry-{tier}"


def dead_letter_topic(channel: str) -> str:
    return f"ordercast.notify.{channel}.dlt"


EVENTS_DLT = "ordercast.events.dlt"
PREFERENCES = "ordercast.preferences"
RESULTS = "ordercast.delivery-results"
INBOX = "ordercast.inbox"
RISK_ALERTS = "ordercast.risk-alerts"
RISK_BY_KEY = "ordercast.risk.by-key"
DLQ_REPLAYED = "ordercast.dlq.replayed"
BY_BUYER = "ordercast.orders.by-buyer"

INTERNAL = (
    TopicSpec(PREFERENCES, "preferences",
              "Recipient preferences (opt-outs, quiet hours, locale); latest wins",
              key="recipient_id", cleanup_policy="compact", retention_ms=-1),
    *(
        TopicSpec(channel_topic(ch), "notification_request",
                  f"Routed notifications for the {ch} channel", key="order_id")
        for ch in CHANNELS
    ),
    *(
        TopicSpec(retry_topic(ch, tier), "notification_request",
                  f"{ch} sends waiting for retry {tier}", key="order_id")
        for ch in CHANNELS for tier in range(1, RETRY_TIERS + 1)
    ),
    *(
        TopicSpec(dead_letter_topic(ch), "dead_letter",
                  f"{ch} notifications that failed for good; replay with `ordercast dlq`",
                  key="order_id", retention_ms=30 * DAY_MS)
        for ch in CHANNELS
    ),
    TopicSpec(EVENTS_DLT, "dead_letter",
              "Lifecycle events that could not be decoded, with the reason",
              key="original key", retention_ms=30 * DAY_MS),
    TopicSpec(RESULTS, "delivery_result", "One record per delivery outcome", key="order_id"),
    TopicSpec(INBOX, "inbox_item", "In-app inbox items", key="recipient_id",
              retention_ms=30 * DAY_MS),
    TopicSpec(RISK_ALERTS, "risk_alert", "Risk alerts for analysts",
              key="flagged value (IP or email)", retention_ms=30 * DAY_MS),
    TopicSpec(DLQ_REPLAYED, "dlq_replay",
              "Dead letters already replayed by `ordercast dlq replay`, one marker each",
              key="dead letter topic:partition:offset", partitions=1,
              retention_ms=30 * DAY_MS),
    TopicSpec(BY_BUYER, "payment_succeeded",
              "Paid orders repartitioned by merchant and buyer (high-frequency copies)",
              key="merchant_id:buyer_id", retention_ms=DAY_MS),
    TopicSpec(RISK_BY_KEY, "json", "Failed-payment fields repartitioned by risk key",
              key="rule:key", retention_ms=DAY_MS),
)

TOPICS: tuple[TopicSpec, ...] = LIFECYCLE + INTERNAL
BY_NAME = {t.name: t for t in TOPICS}


def full_name(name: str, prefix: str | None = None) -> str:
    """The topic's name on the broker: the configured prefix + catalog name."""
    if prefix is None:
        from . import settings

        prefix = settings.kafka().topic_prefix
    return prefix + name
