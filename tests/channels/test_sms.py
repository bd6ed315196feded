"""SMS channel without the network: E.164 normalisation, limits, and the
exact provider calls (botocore Stubber)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from channels.aws import aws_client
from channels.base import SmsMessage
from channels.exceptions import ContentRejected, InvalidAddress, MessageTooLong, Throttled
from channels.sms import EndUserMessagingProvider, SmsChannel, SnsSmsChannel, e164


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("13812345678", "CN", "+8613812345678"),
    ("+86 138 1234 5678", "CN", "+8613812345678"),
    ("+86-138-1234-5678", None, "+8613812345678"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("+44 7911 123456", "CN", "+447911123456"),
    ("9123 4567", "HK", "+85291234567"),
])
def test_e164(raw: str, region: str | None, expected: str) -> None:
    assert e164(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), [
    ("12345", "CN"), ("not a phone", "CN"), ("13812345678", None), ("+86 138", "CN"),
    ("+999 1234 5678", "CN"), ("", "CN"),
])
def test_invalid_numbers(raw: str, region: str | None) -> None:
    with pytest.raises(InvalidAddress):
        e164(raw, region)


def test_invalid_number_message_is_masked() -> None:
    with pytest.raises(InvalidAddress) as info:
        e164("+86 1381234567890", "CN")
    assert "1381234567890" not in str(info.value)


@pytest.fixture
def sns() -> Iterator[SnsSmsChannel]:
    ch = SnsSmsChannel(region="ap-east-1", endpoint_url="http://127.0.0.1:9")
    yield ch
    asyncio.run(ch.close())


def sms(**overrides: object) -> SmsMessage:
    fields: dict[str, object] = dict(notification_id="n-1", phone="13812345678",
                                     text="【小卡商城】订单12345已支付，卡密已就绪。")
    fields.update(overrides)
    return SmsMessage(**fields)  # type: ignore[arg-type]


def test_channel_facts(sns: SnsSmsChannel) -> None:
    assert (sns.name, sns.provider, sns.max_send_rate, sns.max_body_chars) == \
        ("sms", "sns", 20.0, 1600)


def test_sns_publish_call(sns: SnsSmsChannel) -> None:
    client = sns.sms_provider.client  # type: ignore[attr-defined]
    with Stubber(client) as stub:
        stub.add_response("publish", {"MessageId": "m-1"}, {
            "PhoneNumber": "+8613812345678",
            "Message": "【小卡商城】订单12345已支付，卡密已就绪。",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "KASHOP"}},
        })
        receipt = asyncio.run(sns.send(sms(sender_id="KASHOP")))
        stub.assert_no_pending_responses()
    assert (receipt.provider, receipt.provider_message_id) == ("sns", "m-1")


@pytest.mark.parametrize(("overrides", "error"), [
    ({"phone": "12345"}, InvalidAddress),
    ({"text": "x" * 1601}, MessageTooLong),
    ({"text": "   "}, ContentRejected),
    ({"message_type": "Marketing"}, ContentRejected),
])
def test_rejected_before_any_call(sns: SnsSmsChannel, overrides: dict[str, object],
                                  error: type[Exception]) -> None:
    with Stubber(sns.sms_provider.client) as stub:  # type: ignore[attr-defined]
        with pytest.raises(error):
            asyncio.run(sns.send(sms(**overrides)))
        stub.assert_no_pending_responses()


def test_1600_chars_is_allowed(sns: SnsSmsChannel) -> None:
    assert sns.check(sms(text="x" * 1600)) == "+8613812345678"


def test_throttling_is_typed(sns: SnsSmsChannel) -> None:
    with Stubber(sns.sms_provider.client) as stub:  # type: ignore[attr-defined]
        stub.add_client_error("publish", "Throttling", "Rate exceeded", 400)
        with pytest.raises(Throttled):
            asyncio.run(sns.send(sms()))


def test_end_user_messaging_provider_call() -> None:
    # The local emulator lacks pinpoint-sms-voice-v2: this checks the request only.
    client = aws_client("pinpoint-sms-voice-v2", region="ap-southeast-1")
    channel = SmsChannel(EndUserMessagingProvider(client, origination_identity="+6512345678"),
                         default_region="SG")
    assert channel.provider == "sms-voice"
    with Stubber(client) as stub:
        stub.add_response("send_text_message", {"MessageId": "eum-1"}, {
            "DestinationPhoneNumber": "+6591234567", "MessageBody": "Order 12345 paid",
            "MessageType": "PROMOTIONAL", "OriginationIdentity": "+6512345678"})
        receipt = asyncio.run(channel.send(SmsMessage("n-2", "9123 4567", "Order 12345 paid",
                                                      message_type="PROMOTIONAL")))
        stub.assert_no_pending_responses()
    assert receipt.provider_message_id == "eum-1"
    asyncio.run(channel.close())
