"""Delivery failures, typed so the delivery agent can decide without branching
on strings: ``retriable`` errors go to the next retry topic, the rest go to the
dead-letter topic (and, for urgent notifications, to a fallback channel).

    DeliveryError                 retriable? error_class = class name
    ├── RetriableError            yes: the same message may succeed later
    │   ├── Throttled             provider throttling / quota; may carry retry_after
    │   ├── ProviderUnavailable   provider 5xx
    │   ├── ProviderTimeout       no answer in time (ambiguous: it may have been sent)
    │   └── ConnectionFailed      could not reach the provider
    └── PermanentError            no: resending the same message cannot help
        ├── RejectedSender        sender / MAIL FROM identity not verified
        ├── InvalidAddress        recipient address or phone number is not valid
        ├── MessageTooLong        body over the channel's limit
        ├── ContentRejected       provider refused the content
        ├── NotConfigured         missing endpoint, secret, credentials or identity
        └── AccountPaused         provider account sending paused or suspended

Messages never carry a raw recipient address or a secret: callers mask them
with :mod:`channels.pii` before building the error.
"""

from __future__ import annotations

from typing import ClassVar


class DeliveryError(Exception):
    """A send that did not reach the provider's acceptance."""

    retriable: ClassVar[bool] = False
    #: True when the provider may have accepted the message despite the error
    #: (a read timeout): a resend may duplicate it.
    ambiguous: bool = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider_code: str | None = None,
        ambiguous: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.provider_code = provider_code
        if ambiguous is not None:
            self.ambiguous = ambiguous

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = "".join(
            f", {k}={v!r}"
            for k, v in (("provider_code", self.provider_code), ("retry_after", self.retry_after))
            if v is not None
        )
        return f"{self.error_class}({str(self)!r}{extra})"


class RetriableError(DeliveryError):
    retriable = True


class Throttled(RetriableError):
    """The provider asked us to slow down; ``retry_after`` is its hint in seconds."""


class ProviderUnavailable(RetriableError):
    """The provider answered with a server error (5xx)."""


class ProviderTimeout(RetriableError):
    """No answer within the timeout."""


class ConnectionFailed(RetriableError):
    """The provider could not be reached (refused, reset, DNS)."""


class PermanentError(DeliveryError):
    retriable = False


class RejectedSender(PermanentError):
    """The sender identity is not allowed to send (e.g. SES ``MessageRejected``)."""


class InvalidAddress(PermanentError):
    """The recipient address cannot receive this channel's messages."""


class MessageTooLong(PermanentError):
    """The body is over the channel's limit."""


class ContentRejected(PermanentError):
    """The provider refused the message's content."""


class NotConfigured(PermanentError):
    """The channel lacks something only an operator can supply."""


class AccountPaused(PermanentError):
    """The provider account's sending is paused or suspended.

    Permanent on purpose: a pause is lifted by a person, not by time, so the
    retry tiers (seconds) would only delay the dead letter; dead-lettering at
    once lets urgent notifications fall back to another channel, and the
    replay command resends the rest once sending is re-enabled.
    """
