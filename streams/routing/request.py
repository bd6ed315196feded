"""Building ``notification_request`` records (schemas/notification_request.avsc)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Fixed namespace: ids must stay the same across processes and releases.
_NAMESPACE = uuid.UUID("5b0f3c1e-6a53-4f57-9a5e-0d0ca5000000")


def notification_id(event_id: str, recipient_id: str, channel: str, template: str) -> str:
    """Same event, recipient, channel and template -> same id. Kafka redelivery
    and fallbacks onto a channel that was already routed dedupe on it."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join((event_id, recipient_id, channel, template))))


@dataclass(frozen=True)
class Route:
    """One channel for one recipient, as decided by rules and preferences."""

    channel: str
    address: str
    not_before: int | None = None


def build_request(
    *,
    event_id: str,
    event_type: str,
    occurred_at: int,
    merchant_id: str,
    order_id: str | None,
    template: str,
    category: str,
    priority: str,
    route: Route,
    recipient_id: str,
    role: str,
    locale: str,
    timezone: str,
    variables: Mapping[str, str],
    fallback: Iterable[Route] = (),
) -> dict:
    return {
        "notification_id": notification_id(event_id, recipient_id, route.channel, template),
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "merchant_id": merchant_id,
        "order_id": order_id,
        "template": template,
        "category": category,
        "priority": priority,
        "channel": route.channel,
        "recipient_id": recipient_id,
        "role": role,
        "address": route.address,
        "locale": locale,
        "timezone": timezone,
        "not_before": route.not_before,
        "variables": {k: str(v) for k, v in variables.items()},
        "fallback": [{"channel": f.channel, "address": f.address} for f in fallback],
        "fallback_of": None,
    }


def fallback_request(request: Mapping, fallback: Mapping[str, str]) -> dict:
    """The request to send after ``request`` failed for good on its channel.

    Its id is the id a direct route on that channel would have had, so when the
    buyer already got this notification on that channel, delivery dedup drops it.
    It carries no further fallback: one hop only.
    """
    channel = fallback["channel"]
    return {
        **request,
        "notification_id": notification_id(
            request["event_id"], request["recipient_id"], channel, request["template"]
        ),
        "channel": channel,
        "address": fallback["address"],
        "not_before": None,
        "fallback": [],
        "fallback_of": request["channel"],
    }
