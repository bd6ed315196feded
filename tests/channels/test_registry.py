from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from channels.base import Channel
from channels.email_ses import SesEmailChannel
from channels.inapp import InAppChannel
from channels.ratelimit import provider_limiters
from channels.registry import build_channels
from channels.sms import SmsChannel
from channels.webhook import WebhookChannel, WebhookEndpoint
from streams.catalog import CHANNELS


async def publish(topic: str, key: bytes, value: bytes) -> None:
    return None


def close_all(channels: dict[str, Channel]) -> None:  # type: ignore[type-arg]
    async def run() -> None:
        for channel in channels.values():
            await channel.close()
    asyncio.run(run())


def test_builds_every_channel_with_shared_limiters() -> None:
    channels = build_channels(
        endpoint_url="http://127.0.0.1:9", region="eu-west-1",
        ses_sender="noreply@shop.example", concurrency=4, ses_max_send_rate=30,
        inbox_publish=publish,
        webhook_endpoints={"m": WebhookEndpoint("https://hooks.example/x", SecretStr("s"))})
    assert set(channels) == set(CHANNELS)
    assert all(isinstance(c, Channel) for c in channels.values())
    assert all(name == c.name for name, c in channels.items())
    email, sms = channels["email"], channels["sms"]
    assert isinstance(email, SesEmailChannel) and isinstance(sms, SmsChannel)
    assert isinstance(channels["inapp"], InAppChannel)
    assert isinstance(channels["webhook"], WebhookChannel)
    assert email.max_send_rate == 30 and sms.max_send_rate == 20
    assert email.limiter is provider_limiters["ses:eu-west-1"]
    assert sms.limiter is provider_limiters["sns:eu-west-1"]
    assert provider_limiters["ses:eu-west-1"].rate == 30

    again = build_channels(region="eu-west-1", ses_sender="noreply@shop.example")
    assert again["email"].limiter is email.limiter  # type: ignore[attr-defined]
    assert set(again) == {"email", "sms"}
    close_all(channels)
    close_all(again)


def test_end_user_messaging_provider_can_be_chosen() -> None:
    channels = build_channels(region="ap-southeast-1", sms_provider="sms-voice",
                              sms_origination_identity="+6512345678")
    assert channels["sms"].provider == "sms-voice"
    assert "sms-voice:ap-southeast-1" in provider_limiters
    close_all(channels)
    with pytest.raises(ValueError):
        build_channels(sms_provider="carrier-pigeon")
