"""Email through Amazon SES (API v2 ``SendEmail``, simple content)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .aws import AwsCalls, aws_client
from .base import EmailMessage, Receipt, rate_limited
from .exceptions import (
    ContentRejected,
    DeliveryError,
    InvalidAddress,
    MessageTooLong,
    NotConfigured,
)
from .pii import mask_email
from .ratelimit import RateLimiter

_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # SES tag names and values allow only these


def single_line(subject: str) -> str:
    """Collapse every line break (and the space around it) to one space: a
    subject can never start a new header."""
    return _LINE_BREAKS.sub(" ", subject).strip()


def _tag(value: str) -> str:
    return _TAG_UNSAFE.sub("_", value)[:256] or "_"


def recipient_address(address: str) -> str:
    """The ASCII form SES accepts, or InvalidAddress. No DNS lookups: an
    undeliverable domain comes back later as a bounce."""
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise InvalidAddress(f"invalid email address {mask_email(address)}") from None
    return valid.ascii_email or valid.normalized


@lru_cache(maxsize=1024)  # a handful of shop senders, validated once each
def sender_address(sender: str) -> str:
    """``noreply@shop.example`` or ``Shop name <noreply@shop.example>``; a
    non-ASCII display name is RFC 2047 encoded, as SES requires."""
    name, address = parseaddr(sender)
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise NotConfigured("invalid sender address") from None
    address = valid.ascii_email or valid.normalized
    return formataddr((single_line(name), address), charset="utf-8") if name else address


class SesEmailChannel:
    name = "email"
    provider = "ses"
    # SES's long-time starting production rate; the sandbox allows 1/s and
    # production quotas vary per account: adopt_quota() reads the real one.
    max_send_rate = 14.0
    max_body_chars = 10_000_000  # SES v2 caps the MIME message at 40 MB

    def __init__(
        self,
        *,
        sender: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        concurrency: int = 10,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        configuration_set: str | None = None,
        limiter: RateLimiter | None = None,
        max_send_rate: float | None = None,
    ) -> None:
        self.sender = sender_address(sender) if sender else None
        self.configuration_set = configuration_set
        self.limiter = limiter
        if max_send_rate is not None:
            self.max_send_rate = max_send_rate
        self._client_args: dict[str, Any] = dict(
            endpoint_url=endpoint_url, region=region, concurrency=concurrency,
            connect_timeout=connect_timeout, read_timeout=read_timeout)
        self._client = aws_client("sesv2", **self._client_args)
        self._v1: Any = None  # SES v1 client, only for GetSendQuota
        self._calls = AwsCalls(self.provider, concurrency)

    def request(self, message: EmailMessage) -> dict[str, Any]:
        """The ``SendEmail`` arguments for a message; raises before any call."""
        to = recipient_address(message.to)
        sender = sender_address(message.sender) if message.sender else self.sender
        if sender is None:
            raise NotConfigured("no sender address configured")
        if not message.text and not message.html:
            raise ContentRejected("email has neither a text nor an HTML body")
        size = len(message.text or "") + len(message.html or "")
        if size > self.max_body_chars:
            raise MessageTooLong(f"email body of {size} chars is over {self.max_body_chars}")
        body: dict[str, Any] = {}
        if message.text:
            body["Text"] = {"Data": message.text, "Charset": "UTF-8"}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        kwargs: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Simple": {
                "Subject": {"Data": single_line(message.subject), "Charset": "UTF-8"},
                "Body": body,
            }},
            "EmailTags": _tags({**message.tags, "notification_id": message.notification_id}),
        }
        if message.reply_to:
            try:
                kwargs["ReplyToAddresses"] = [recipient_address(message.reply_to)]
            except InvalidAddress:
                raise ContentRejected("invalid reply-to address") from None
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        return kwargs

    async def send(self, message: EmailMessage) -> Receipt:
        kwargs = self.request(message)

        async def call() -> Receipt:
            response = await self._calls.call(self._client.send_email, **kwargs)
            return Receipt(self.provider, response["MessageId"])

        return await rate_limited(self.limiter, call)

    async def send_quota(self) -> float | None:
        """The account's maximum send rate (messages/s), from SES v2
        ``GetAccount`` or, where that is missing, SES v1 ``GetSendQuota``."""
        try:
            account = await self._calls.call(self._client.get_account)
            return float(account["SendQuota"]["MaxSendRate"])
        except (DeliveryError, KeyError):
            pass
        if self._v1 is None:
            self._v1 = aws_client("ses", **self._client_args)
        try:
            quota = await self._calls.call(self._v1.get_send_quota)
            return float(quota["MaxSendRate"])
        except (DeliveryError, KeyError):
            return None

    async def adopt_quota(self) -> float | None:
        """Read the send quota and make it the limiter's ceiling."""
        rate = await self.send_quota()
        if rate and rate > 0:
            self.max_send_rate = rate
            if self.limiter is not None:
                self.limiter.set_ceiling(rate)
        return rate

    async def close(self) -> None:
        self._calls.close()
        for client in (self._client, self._v1):
            if client is not None:
                client.close()


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": _tag(k), "Value": _tag(v)} for k, v in tags.items()]
