"""What the delivery agents write and call: channels built once per process,
rendered messages, delivery results, dead letters and durable table writes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from channels.base import Channel, Message
from channels.exceptions import DeliveryError, NotConfigured, PermanentError
from channels.registry import build_channels
from channels.webhook import WebhookEndpoint
from schemas.codec import REGISTRY

from . import cardkey, context, deadletter, dispatch, metrics, state
from . import settings as cfg
from .app import changelog
from .aws import emulator_credentials
from .catalog import CHANNELS, INBOX, RESULTS, dead_letter_topic
from .clock import now_ms
from .render import PARTS_BY_CHANNEL, Renderer, TemplateProblem
from .wire import raw_topic

TEMPLATES = Path(__file__).parent / "templates"



results_topic = raw_topic(RESULTS)
inbox_topic = raw_topic(INBOX)
dlt_topics = {ch: raw_topic(dead_letter_topic(ch)) for ch in CHANNELS}


@lru_cache(maxsize=1)
def renderer() -> Renderer:
    return Renderer(TEMPLATES, auto_reload=False)  # templates ship with the release


_channels: dict[str, Channel] = {}


async def _publish_inbox(topic: str, key: bytes, value: bytes) -> None:
    # A receipt means the record is written: the sent mark that follows goes out
    # through another producer and must never be durable before the inbox item.
    acknowledged = await inbox_topic.send(key=key, value=value)
    await acknowledged


def channel(name: str) -> Channel:
    if not _channels:
        emulator_credentials()
        aws, w = cfg.aws(), cfg.worker()
        _channels.update(build_channels(
            endpoint_url=aws.endpoint_url, region=aws.region, ses_sender=w.ses_sender,
            concurrency=aws.concurrency, ses_max_send_rate=aws.ses_max_send_rate,
            sms_max_send_rate=aws.sms_max_send_rate, sms_default_region=w.sms_default_region,
            rate_burst=max(1, aws.concurrency // 4), inbox_publish=_publish_inbox,
            webhook_endpoints=_webhooks()))
    try:
        return _channels[name]
    except KeyError:
        raise NotConfigured(f"channel {name!r} is not configured") from None


class RenderFailed(PermanentError):
    """The template could not be rendered for this request: resending cannot help."""


def as_delivery_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, TemplateProblem):
        return RenderFailed(str(exc))
    raise exc


def _webhooks() -> dict[str, WebhookEndpoint]:
    return {name: WebhookEndpoint(conf["url"].get_secret_value(), conf["secret"])
            for name, conf in cfg.worker().webhooks.items()}


async def message_for(request: dict[str, Any]) -> Message:
    """Render the request's template for its channel, minting the card-key link."""
    w = cfg.worker()
    variables = dict(request["variables"])
    if cardkey.needs_link(request["template"], request["channel"]):
        token = cardkey.mint(variables.get("card_key_ref", ""), request["notification_id"],
                             w.link_secret, w.link_ttl_s)
        variables["card_key_url"] = cardkey.link(f"{w.link_base_url}/k", token)
    merchant = context.merchants()[request["merchant_id"]]
    rendered = renderer().render(request["template"], request["locale"], merchant, variables,
                                 parts=PARTS_BY_CHANNEL[request["channel"]])
    return dispatch.to_message(request, rendered, merchant.sender_email or w.ses_sender)


async def durable_put(table, partition: int, key: str, value: Any) -> None:
    """Write a table key and wait until its changelog record is acknowledged."""
    await state.put(table, partition, key, value)


async def result(request: dict[str, Any], provider: str, status: str, attempt: int,
                 latency_ms: int, *, provider_message_id: str | None = None,
                 error: DeliveryError | None = None) -> None:
    record = {
        "notification_id": request["notification_id"], "event_id": request["event_id"],
        "merchant_id": request["merchant_id"], "order_id": request.get("order_id"),
        "template": request["template"], "channel": request["channel"], "provider": provider,
        "status": status, "provider_message_id": provider_message_id, "attempt": attempt,
        "latency_ms": latency_ms, "fallback": bool(request.get("fallback_of")),
        "error_class": error.error_class if error else None,
        "error_message": str(error) if error else None, "at": now_ms(),
    }
    key = (request.get("order_id") or request["recipient_id"]).encode()
    # acknowledged before the offsets of the request that made it are committed
    changelog.send(results_topic.get_topic_name(), key,
                   REGISTRY.encode("delivery_result", record, check=False))


async def dead_letter(channel: str, info: dispatch.RetryInfo, key: bytes | None,
                      value: bytes | None, error_class: str, error_message: str,
                      request: dict[str, Any] | None, *, first_failure_ms: int | None = None
                      ) -> None:
    topic, partition, offset = info.origin or ("?", -1, -1)
    origin = deadletter.Origin(topic, partition, offset, key)
    dl_value, headers = deadletter.build(
        origin, value, error_class, error_message, attempts=info.attempt,
        first_failure_ms=first_failure_ms, channel=channel,
        notification_id=request["notification_id"] if request else None)
    await dlt_topics[channel].send(key=key, value=dl_value, headers=headers)
    metrics.DEAD_LETTERS.labels(channel, error_class).inc()
