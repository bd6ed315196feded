"""SES channel without the network: request building, validation, and the
exact SendEmail call (botocore Stubber)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from channels.base import EmailMessage, Receipt
from channels.email_ses import SesEmailChannel, single_line
from channels.exceptions import (
    ContentRejected,
    InvalidAddress,
    MessageTooLong,
    NotConfigured,
    Throttled,
)


@pytest.fixture
def channel() -> Iterator[SesEmailChannel]:
    ch = SesEmailChannel(sender="noreply@shop.example", region="eu-west-1",
                         endpoint_url="http://127.0.0.1:9")  # never reached
    yield ch
    asyncio.run(ch.close())


def email(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = dict(
        notification_id="n-1", to="buyer@example.com", sender=None,
        subject="Order #12345 paid", text="Your card key is ready.", html="<p>ready</p>")
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("subject", "expected"), [
    ("Order #12345 paid", "Order #12345 paid"),
    ("Order paid\r\nBcc: victim@example.com", "Order paid Bcc: victim@example.com"),
    ("a\nb\rc\r\n\r\nd", "a b c d"),
    ("a \u2028 b\u2029c\x85d\x0be\x0cf", "a b c d e f"),
    ("  订单已支付\n", "订单已支付"),
])
def test_subject_is_one_line(subject: str, expected: str) -> None:
    assert single_line(subject) == expected


def test_request_shape(channel: SesEmailChannel) -> None:
    kwargs = channel.request(email(subject="Paid\r\nBcc: x@example.com",
                                   reply_to="help@shop.example",
                                   tags={"template": "payment.succeeded"}))
    assert kwargs["FromEmailAddress"] == "noreply@shop.example"
    assert kwargs["Destination"] == {"ToAddresses": ["buyer@example.com"]}
    simple = kwargs["Content"]["Simple"]
    assert simple["Subject"] == {"Data": "Paid Bcc: x@example.com", "Charset": "UTF-8"}
    assert simple["Body"] == {"Text": {"Data": "Your card key is ready.", "Charset": "UTF-8"},
                              "Html": {"Data": "<p>ready</p>", "Charset": "UTF-8"}}
    assert kwargs["ReplyToAddresses"] == ["help@shop.example"]
    assert {"Name": "notification_id", "Value": "n-1"} in kwargs["EmailTags"]
    assert {"Name": "template", "Value": "payment_succeeded"} in kwargs["EmailTags"]


def test_text_only_and_message_sender(channel: SesEmailChannel) -> None:
    kwargs = channel.request(email(html=None, sender="orders@shop.example"))
    assert kwargs["FromEmailAddress"] == "orders@shop.example"
    assert list(kwargs["Content"]["Simple"]["Body"]) == ["Text"]


def test_non_ascii_display_name_is_rfc2047_encoded() -> None:
    ch = SesEmailChannel(sender="小卡商城 <noreply@shop.example>", region="eu-west-1")
    assert ch.sender is not None
    assert ch.sender.endswith("<noreply@shop.example>") and ch.sender.startswith("=?utf-8?")
    asyncio.run(ch.close())


@pytest.mark.parametrize(("overrides", "error"), [
    ({"to": "not-an-address"}, InvalidAddress),
    ({"to": "buyer@"}, InvalidAddress),
    ({"to": "bü yer@example.com"}, InvalidAddress),
    ({"to": "用户@example.com"}, InvalidAddress),  # SES cannot send to SMTPUTF8 mailboxes
    ({"text": "", "html": None}, ContentRejected),
    ({"text": "x" * 10_000_001}, MessageTooLong),
    ({"reply_to": "nope"}, ContentRejected),
    ({"sender": "not an address"}, NotConfigured),
])
def test_invalid_messages_fail_before_any_call(channel: SesEmailChannel,
                                               overrides: dict[str, object],
                                               error: type[Exception]) -> None:
    with Stubber(channel._client) as stub:  # any provider call would fail the stubber
        with pytest.raises(error):
            asyncio.run(channel.send(email(**overrides)))
        stub.assert_no_pending_responses()


def test_invalid_address_error_is_masked(channel: SesEmailChannel) -> None:
    with pytest.raises(InvalidAddress) as info:
        channel.request(email(to="alice@@example.com"))
    assert "alice@@example.com" not in str(info.value)
    assert info.value.error_class == "InvalidAddress" and not info.value.retriable


def test_no_sender_anywhere_is_not_configured() -> None:
    ch = SesEmailChannel(region="eu-west-1")
    with pytest.raises(NotConfigured):
        ch.request(email())
    asyncio.run(ch.close())


def test_send_makes_exactly_the_expected_call(channel: SesEmailChannel) -> None:
    expected = channel.request(email())
    with Stubber(channel._client) as stub:
        stub.add_response("send_email", {"MessageId": "0100-abc"}, expected)
        receipt = asyncio.run(channel.send(email()))
        stub.assert_no_pending_responses()
    assert isinstance(receipt, Receipt)
    assert (receipt.provider, receipt.provider_message_id) == ("ses", "0100-abc")
    assert receipt.accepted_at > 1_600_000_000_000  # epoch millis


def test_provider_error_is_typed(channel: SesEmailChannel) -> None:
    with Stubber(channel._client) as stub:
        stub.add_client_error("send_email", "TooManyRequestsException", "Too Many Requests", 429)
        with pytest.raises(Throttled) as info:
            asyncio.run(channel.send(email()))
    assert info.value.provider_code == "TooManyRequestsException"
    assert info.value.__suppress_context__  # botocore's text (may quote the recipient) is cut


def test_send_quota_prefers_v2_get_account(channel: SesEmailChannel) -> None:
    with Stubber(channel._client) as stub:
        stub.add_response("get_account", {"SendQuota": {"MaxSendRate": 42.0,
                                                        "Max24HourSend": 50000.0,
                                                        "SentLast24Hours": 0.0}})
        assert asyncio.run(channel.send_quota()) == 42.0
