"""Every Prometheus metric the worker exports, in one place.

Label values are bounded sets (topics, event types, channels, templates, error
classes, rules); never an order id, address or card key.
"""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram

VERSION = "0.1.0"

EVENTS = Counter("ordercast_events_consumed", "Lifecycle events consumed",
                 ["topic", "event_type"])
ROUTED = Counter("ordercast_notifications_routed", "Notification requests routed",
                 ["template", "category", "priority", "channel"])
SUPPRESSED = Counter("ordercast_notifications_suppressed",
                     "Notifications dropped because the order's state made them stale",
                     ["template"])
DELIVERIES = Counter("ordercast_deliveries", "Final delivery outcomes",
                     ["channel", "provider", "status"])
ATTEMPTS = Counter("ordercast_delivery_attempts", "Provider calls by outcome",
                   ["channel", "provider", "outcome"])
LATENCY = Histogram(
    "ordercast_delivery_latency_seconds",
    "From the order event's occurred_at to provider acceptance",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
RETRIES = Counter("ordercast_retries", "Sends scheduled for retry", ["channel", "attempt"])
DEAD_LETTERS = Counter("ordercast_dead_letters", "Messages dead-lettered",
                       ["channel", "error_class"])
FALLBACKS = Counter("ordercast_fallbacks", "Urgent notifications re-sent on another channel",
                    ["from_channel", "to_channel"])
LIMITER_WAITS = Counter("ordercast_rate_limiter_waits", "Sends that waited for a token",
                        ["provider"])
LIMITER_WAIT_SECONDS = Counter("ordercast_rate_limiter_wait_seconds",
                               "Seconds spent waiting for tokens", ["provider"])
TIMERS_PENDING = Gauge("ordercast_timers_pending",
                       "Reminders, delay notices and quiet-hours sends waiting in this worker")
PREFERENCES = Counter("ordercast_preferences_updates", "Preference records materialised")
DEDUP_HITS = Counter("ordercast_dedup_hits", "Duplicates suppressed", ["stage"])
SENDING = Gauge("ordercast_sends_in_progress",
                "Notifications between dedup check and delivery result in this worker")
AMBIGUOUS = Counter("ordercast_ambiguous_resends",
                    "Sends in flight at a crash, re-sent after restart", ["channel"])
RISK_ALERTS = Counter("ordercast_risk_alerts", "Risk alerts raised", ["rule"])
RISK_OBSERVED = Counter("ordercast_risk_observations", "Failed payments counted per rule",
                        ["rule"])
LAG = Gauge("ordercast_consumer_lag", "Messages behind the log end",
            ["group", "topic", "partition"])  # notify and risk are separate groups
STALLS = Counter("ordercast_consumer_stalls",
                 "Assigned partitions found behind and not fetched, by the repair taken",
                 ["action"])
# Series exist from start-up, so rate()/increase() see a restart's first delivery.
for _channel, _provider in (("email", "ses"), ("sms", "sns"), ("inapp", "inapp"),
                            ("webhook", "webhook")):
    for _status in ("delivered", "dead_lettered"):
        DELIVERIES.labels(_channel, _provider, _status)
BUILD = Gauge("ordercast_build_info", "Build information", ["version", "python"])
BUILD.labels(VERSION, platform.python_version()).set(1)
