"""SMS through Amazon SNS, behind a small provider seam.

The channel owns what every SMS provider shares (E.164 normalisation, body
limit, thread pool, rate limiting); an :class:`SmsProvider` only makes the
blocking API call. :class:`EndUserMessagingProvider` (AWS End User Messaging
SMS, ``pinpoint-sms-voice-v2``) is the second provider; the local emulator
does not implement that API, so it is exercised only against real AWS.
"""

from __future__ import annotations

from typing import Any, Protocol

import phonenumbers

from .aws import AwsCalls, aws_client
from .base import Receipt, SmsMessage, rate_limited
from .exceptions import ContentRejected, InvalidAddress, MessageTooLong
from .pii import mask_phone
from .ratelimit import RateLimiter

MESSAGE_TYPES = ("TRANSACTIONAL", "PROMOTIONAL")


def e164(phone: str, default_region: str | None = "CN") -> str:
    """``phone`` as E.164 (``+8613812345678``), or InvalidAddress. Numbers
    without a country code are read in ``default_region``."""
    try:
        number = phonenumbers.parse(phone, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidAddress(f"invalid phone number {mask_phone(phone)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SmsProvider(Protocol):
    name: str
    max_send_rate: float

    def publish(self, phone: str, text: str, *, sender_id: str | None,
                message_type: str) -> str:
        """Send one SMS (blocking); returns the provider's message id."""
        ...

    def close(self) -> None: ...


class SnsProvider:
    name = "sns"
    max_send_rate = 20.0  # SNS default SMS quota, messages per second

    def __init__(self, client: Any) -> None:
        self.client = client

    def publish(self, phone: str, text: str, *, sender_id: str | None,
                message_type: str) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {
            "DataType": "String", "StringValue": message_type.title()}}
        if sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}
        response = self.client.publish(PhoneNumber=phone, Message=text,
                                       MessageAttributes=attributes)
        return str(response["MessageId"])

    def close(self) -> None:
        self.client.close()


class EndUserMessagingProvider:
    name = "sms-voice"
    max_send_rate = 20.0  # per origination identity; long codes allow less

    def __init__(self, client: Any, *, origination_identity: str | None = None,
                 configuration_set: str | None = None) -> None:
        self.client = client
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set

    def publish(self, phone: str, text: str, *, sender_id: str | None,
                message_type: str) -> str:
        kwargs: dict[str, Any] = {"DestinationPhoneNumber": phone, "MessageBody": text,
                                  "MessageType": message_type}
        origin = sender_id or self.origination_identity
        if origin:
            kwargs["OriginationIdentity"] = origin
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        return str(self.client.send_text_message(**kwargs)["MessageId"])

    def close(self) -> None:
        self.client.close()


class SmsChannel:
    name = "sms"
    max_body_chars = 1600  # SNS rejects longer messages

    def __init__(self, provider: SmsProvider, *, default_region: str | None = "CN",
                 concurrency: int = 10, limiter: RateLimiter | None = None,
                 max_send_rate: float | None = None) -> None:
        self.sms_provider = provider
        self.provider = provider.name
        self.max_send_rate = max_send_rate or provider.max_send_rate
        self.default_region = default_region
        self.limiter = limiter
        self._calls = AwsCalls(self.provider, concurrency)

    def check(self, message: SmsMessage) -> str:
        """The E.164 number to send to; raises before any provider call."""
        phone = e164(message.phone, self.default_region)
        if not message.text.strip():
            raise ContentRejected("empty SMS")
        if len(message.text) > self.max_body_chars:
            raise MessageTooLong(f"SMS of {len(message.text)} chars is over {self.max_body_chars}")
        if message.message_type not in MESSAGE_TYPES:
            raise ContentRejected(f"unknown SMS message type {message.message_type!r}")
        return phone

    async def send(self, message: SmsMessage) -> Receipt:
        phone = self.check(message)

        async def call() -> Receipt:
            message_id = await self._calls.call(
                self.sms_provider.publish, phone=phone, text=message.text,
                sender_id=message.sender_id, message_type=message.message_type)
            return Receipt(self.provider, message_id)

        return await rate_limited(self.limiter, call)

    async def close(self) -> None:
        self._calls.close()
        self.sms_provider.close()


class SnsSmsChannel(SmsChannel):
    """SMS through SNS ``Publish`` to a phone number."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 concurrency: int = 10, connect_timeout: float = 2.0,
                 read_timeout: float = 10.0, default_region: str | None = "CN",
                 limiter: RateLimiter | None = None,
                 max_send_rate: float | None = None) -> None:
        client = aws_client("sns", endpoint_url=endpoint_url, region=region,
                            concurrency=concurrency, connect_timeout=connect_timeout,
                            read_timeout=read_timeout)
        super().__init__(SnsProvider(client), default_region=default_region,
                         concurrency=concurrency, limiter=limiter, max_send_rate=max_send_rate)
