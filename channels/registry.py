"""Build the delivery channels from plain settings values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .aws import aws_client
from .base import Channel
from .email_ses import SesEmailChannel
from .inapp import InAppChannel, Publish
from .ratelimit import limiter_for
from .sms import EndUserMessagingProvider, SmsChannel, SnsProvider
from .webhook import WebhookChannel, WebhookEndpoint


def build_channels(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    ses_sender: str | None = None,
    concurrency: int = 10,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
    ses_max_send_rate: float | None = None,
    sms_max_send_rate: float | None = None,
    sms_provider: str = "sns",
    sms_default_region: str | None = "CN",
    sms_origination_identity: str | None = None,
    rate_burst: int = 1,
    inbox_publish: Publish | None = None,
    webhook_endpoints: Mapping[str, WebhookEndpoint] | None = None,
) -> dict[str, Channel[Any]]:
    """Channels by name ("email", "sms", and "inapp" / "webhook" when given a
    publisher / endpoints). Each AWS channel shares one rate limiter per
    provider account (provider and region) with every other sender in the
    process; ``endpoint_url`` points boto3 at a local emulator."""
    aws: dict[str, Any] = dict(
        endpoint_url=endpoint_url, region=region, concurrency=concurrency,
        connect_timeout=connect_timeout, read_timeout=read_timeout)
    account = region or "default"

    email_rate = ses_max_send_rate or SesEmailChannel.max_send_rate
    channels: dict[str, Channel[Any]] = {
        "email": SesEmailChannel(
            sender=ses_sender, max_send_rate=email_rate,
            limiter=limiter_for(f"ses:{account}", email_rate, rate_burst), **aws),
    }

    provider: SnsProvider | EndUserMessagingProvider
    if sms_provider == "sns":
        provider = SnsProvider(aws_client("sns", **aws))
    elif sms_provider == "sms-voice":
        provider = EndUserMessagingProvider(aws_client("pinpoint-sms-voice-v2", **aws),
                                            origination_identity=sms_origination_identity)
    else:
        raise ValueError(f"unknown SMS provider {sms_provider!r} (sns or sms-voice)")
    sms_rate = sms_max_send_rate or provider.max_send_rate
    channels["sms"] = SmsChannel(
        provider, default_region=sms_default_region, concurrency=concurrency,
        max_send_rate=sms_rate,
        limiter=limiter_for(f"{provider.name}:{account}", sms_rate, rate_burst))

    if inbox_publish is not None:
        channels["inapp"] = InAppChannel(inbox_publish)
    if webhook_endpoints:
        channels["webhook"] = WebhookChannel(
            webhook_endpoints,
            limiter=limiter_for("webhook", WebhookChannel.max_send_rate, rate_burst))
    return channels
