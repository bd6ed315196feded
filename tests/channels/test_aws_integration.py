"""SES and SNS channels against a real moto_server, directly and through the
fault proxy (throttling, 5xx, timeouts as botocore really sees them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import boto3
import pytest

from channels.base import EmailMessage, SmsMessage
from channels.email_ses import SesEmailChannel
from channels.exceptions import (
    InvalidAddress,
    ProviderTimeout,
    ProviderUnavailable,
    RejectedSender,
    Throttled,
)
from channels.ratelimit import RateLimiter
from channels.sms import SnsSmsChannel
from streams.faultproxy import FaultProxy

from .motoserver import moto_data

REGION = "us-east-1"
SENDER = "noreply@shop.example"
T = TypeVar("T")


def verify_identity(moto_url: str, identity: str = "shop.example") -> None:
    ses = boto3.client("sesv2", endpoint_url=moto_url, region_name=REGION)
    ses.create_email_identity(EmailIdentity=identity)


def email(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = dict(
        notification_id="n-1", to="buyer@example.com", sender=None,
        subject="订单 12345 已支付\r\nBcc: victim@example.com", text="卡密已就绪",
        html="<p>卡密已就绪</p>")
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


def sms(phone: str = "13812345678") -> SmsMessage:
    return SmsMessage("n-2", phone, "【小卡商城】订单12345已支付，卡密已就绪。")


def with_channel(make: Callable[[], T], use: Callable[[T], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        channel = make()
        try:
            return await use(channel)
        finally:
            await channel.close()  # type: ignore[attr-defined]
    return asyncio.run(run())


def ses_channel(url: str, **kw: Any) -> SesEmailChannel:
    return SesEmailChannel(sender=SENDER, endpoint_url=url, region=REGION, **kw)


def sns_channel(url: str, **kw: Any) -> SnsSmsChannel:
    return SnsSmsChannel(endpoint_url=url, region=REGION, **kw)


def test_email_is_delivered_and_readable_back(moto_url: str) -> None:
    verify_identity(moto_url)
    receipt = with_channel(lambda: ses_channel(moto_url), lambda ch: ch.send(email()))
    [stored] = moto_data(moto_url)["ses"]["Message"]
    assert stored["id"] == receipt.provider_message_id
    assert stored["source"] == SENDER
    assert stored["destinations"]["ToAddresses"] == ["buyer@example.com"]
    assert stored["subject"] == "订单 12345 已支付 Bcc: victim@example.com"  # one line
    assert stored["body"] == "<p>卡密已就绪</p>"
    assert receipt.provider == "ses"


def test_unverified_sender_is_rejected(moto_url: str) -> None:
    with pytest.raises(RejectedSender) as info:
        with_channel(lambda: ses_channel(moto_url), lambda ch: ch.send(email()))
    assert info.value.provider_code == "MessageRejected" and not info.value.retriable
    assert SENDER not in str(info.value)  # moto quotes the address; we mask it
    assert moto_data(moto_url)["ses"]["Message"] == []


def test_send_quota_falls_back_to_ses_v1(moto_url: str) -> None:
    # moto answers SES v1 GetSendQuota (sandbox: 1/s) but not v2 GetAccount
    limiter = RateLimiter(14.0)

    async def use(ch: SesEmailChannel) -> float | None:
        return await ch.adopt_quota()

    rate = with_channel(lambda: ses_channel(moto_url, limiter=limiter), use)
    assert rate == 1.0 and limiter.ceiling == 1.0


def test_sms_is_delivered_and_readable_back(moto_url: str) -> None:
    receipt = with_channel(lambda: sns_channel(moto_url), lambda ch: ch.send(sms()))
    [stored] = moto_data(moto_url)["sns"]["SMS"]
    assert stored == {"message_id": receipt.provider_message_id,
                      "phone_number": "+8613812345678",
                      "message": "【小卡商城】订单12345已支付，卡密已就绪。"}


def test_invalid_phone_never_reaches_the_provider(moto_url: str) -> None:
    async def scenario(proxy: FaultProxy) -> None:
        channel = sns_channel(proxy.url)
        try:
            with pytest.raises(InvalidAddress):
                await channel.send(sms("+86 138"))
        finally:
            await channel.close()
        assert dict(proxy.stats) == {}  # not a single request

    with_proxy(moto_url, scenario)
    assert moto_data(moto_url)["sns"]["SMS"] == []


def with_proxy(upstream: str, scenario: Callable[[FaultProxy], Awaitable[None]]) -> None:
    """Run ``scenario`` with an in-process fault proxy in front of moto."""
    async def main() -> None:
        async with FaultProxy(upstream) as proxy:
            await scenario(proxy)
    asyncio.run(main())


@pytest.mark.parametrize(("service", "mode", "error", "code"), [
    ("ses", "throttle", Throttled, "TooManyRequestsException"),
    ("ses", "5xx", ProviderUnavailable, "ServiceUnavailable"),
    ("ses", "timeout", ProviderTimeout, None),
    ("sns", "throttle", Throttled, "Throttling"),
    ("sns", "5xx", ProviderUnavailable, "ServiceUnavailable"),
    ("sns", "timeout", ProviderTimeout, None),
])
def test_provider_faults_become_typed_errors_without_hidden_retries(
    moto_url: str, service: str, mode: str, error: type[Exception], code: str | None,
) -> None:
    verify_identity(moto_url)

    async def scenario(proxy: FaultProxy) -> None:
        limiter = RateLimiter(100.0)
        make = ses_channel if service == "ses" else sns_channel
        channel: Any = make(proxy.url, read_timeout=0.5, limiter=limiter)
        message = email() if service == "ses" else sms()

        def send() -> Awaitable[Any]:
            return channel.send(message)

        try:
            proxy.set_fault(mode, match=service, hang_s=5.0)
            with pytest.raises(error) as info:
                await send()
            assert info.value.provider_code == code  # type: ignore[attr-defined]
            # botocore made exactly one attempt: retries belong to the retry topics
            assert proxy.stats[service] == {mode: 1}
            assert limiter.rate == (50.0 if mode == "throttle" else 100.0)
            proxy.set_fault("none")
            receipt = await send()
            assert receipt.provider == channel.provider
            assert proxy.stats[service]["forwarded"] == 1
        finally:
            await channel.close()

    with_proxy(moto_url, scenario)


def test_timeout_after_send_is_ambiguous(moto_url: str) -> None:
    async def scenario(proxy: FaultProxy) -> None:
        channel = sns_channel(proxy.url, read_timeout=0.5)
        try:
            proxy.set_fault("timeout-after-send", match="sns", hang_s=5.0)
            with pytest.raises(ProviderTimeout) as info:
                await channel.send(sms())
            assert info.value.ambiguous
        finally:
            await channel.close()

    with_proxy(moto_url, scenario)
    assert len(moto_data(moto_url)["sns"]["SMS"]) == 1  # it was sent after all
