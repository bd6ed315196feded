"""AWS error codes (SES v1/v2, SNS, End User Messaging SMS) -> delivery errors.

botocore is configured not to retry (retries go through Kafka retry topics),
so every throttle, 5xx and timeout surfaces here once and is classified.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from .exceptions import (
    AccountPaused,
    ConnectionFailed,
    ContentRejected,
    DeliveryError,
    InvalidAddress,
    MessageTooLong,
    NotConfigured,
    PermanentError,
    ProviderTimeout,
    ProviderUnavailable,
    RejectedSender,
    Throttled,
)
from .pii import scrub

#: AWS's advice for SES quota errors is to wait "up to 10 minutes"; used as
#: the retry_after hint when a daily or account quota (not the rate) is hit.
QUOTA_RETRY_AFTER_S = 600.0

CODE_TABLE: dict[str, type[DeliveryError]] = {
    # throttling: sending rate, API rate, daily quota
    "Throttling": Throttled,  # SES v1 ("Maximum sending rate exceeded."), SNS
    "ThrottlingException": Throttled,  # End User Messaging SMS
    "ThrottledException": Throttled,
    "Throttled": Throttled,  # SNS ThrottledException's wire code
    "TooManyRequestsException": Throttled,  # SES v2, HTTP 429
    "LimitExceededException": Throttled,  # SES v2
    "KMSThrottling": Throttled,  # SNS topic encryption
    # provider side
    "InternalError": ProviderUnavailable,  # SNS, HTTP 500
    "InternalFailure": ProviderUnavailable,
    "InternalServerException": ProviderUnavailable,  # End User Messaging SMS
    "ServiceUnavailable": ProviderUnavailable,
    "ServiceUnavailableException": ProviderUnavailable,
    "RequestTimeout": ProviderTimeout,
    "RequestTimeoutException": ProviderTimeout,
    # sender identity
    "MessageRejected": RejectedSender,  # refined below: content vs identity
    "MailFromDomainNotVerifiedException": RejectedSender,  # SES v2 and v1
    # account-wide stops: a person has to act (see AccountPaused)
    "SendingPausedException": AccountPaused,  # SES v2
    "AccountSendingPausedException": AccountPaused,  # SES v1
    "ConfigurationSetSendingPausedException": AccountPaused,  # SES v1
    "AccountSuspendedException": AccountPaused,  # SES v2
    "ServiceQuotaExceededException": AccountPaused,  # EUM: spend limit reached
    # configuration
    "ConfigurationSetDoesNotExist": NotConfigured,
    "NotFoundException": NotConfigured,  # SES v2: configuration set, template
    "NotFound": NotConfigured,  # SNS
    "ResourceNotFoundException": NotConfigured,  # EUM: origination identity
    "AuthorizationError": NotConfigured,  # SNS
    "AccessDeniedException": NotConfigured,
    "AccessDenied": NotConfigured,
    "InvalidClientTokenId": NotConfigured,
    "UnrecognizedClientException": NotConfigured,
    "SignatureDoesNotMatch": NotConfigured,
    # the request itself: refined below by what the message names
    "BadRequestException": ContentRejected,  # SES v2
    "InvalidParameter": ContentRejected,  # SNS (bad phone number, too long)
    "ParameterValueInvalid": ContentRejected,  # SNS InvalidParameterValue
    "InvalidParameterValue": ContentRejected,
    "ValidationException": ContentRejected,  # SNS, EUM
    "EndpointDisabled": InvalidAddress,  # SNS
}

_ADDRESS_HINT = re.compile(r"phone|destination|recipient|address|opted.?out", re.I)
_LENGTH_HINT = re.compile(r"too long|length|less than \d+|exceeds? .*(size|limit)", re.I)
_IDENTITY_HINT = re.compile(r"not verified|verif", re.I)
_QUOTA_HINT = re.compile(r"daily|quota", re.I)


def classify_code(code: str, message: str = "", status: int | None = None) -> type[DeliveryError]:
    """The delivery error class for a provider error code (plus the message
    where one code covers several causes) and HTTP status."""
    cls = CODE_TABLE.get(code)
    if cls is None:
        if status is not None and status >= 500:
            return ProviderUnavailable
        return Throttled if status == 429 else PermanentError
    if cls is ContentRejected:
        if _LENGTH_HINT.search(message):
            return MessageTooLong
        if _ADDRESS_HINT.search(message):
            return InvalidAddress
    if cls is RejectedSender and message and not _IDENTITY_HINT.search(message):
        return ContentRejected  # MessageRejected for content (e.g. a virus)
    return cls


def from_client_error(exc: ClientError, provider: str) -> DeliveryError:
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or "Unknown")
    message = scrub(str(err.get("Message") or ""))[:200]
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    cls = classify_code(code, message, status)
    retry_after = None
    if cls is Throttled and (code == "LimitExceededException" or _QUOTA_HINT.search(message)):
        retry_after = QUOTA_RETRY_AFTER_S
    text = f"{provider} {code}" + (f": {message}" if message else "")
    return cls(text, provider_code=code, retry_after=retry_after)


def from_botocore(exc: Exception, provider: str) -> DeliveryError:
    """Map a botocore failure of a provider call to a delivery error (for the
    caller to raise ``from exc``). Anything else is a bug: TypeError."""
    if isinstance(exc, ClientError):
        return from_client_error(exc, provider)
    kind = type(exc).__name__
    # order matters: ConnectTimeoutError is also a ConnectionError
    if isinstance(exc, ReadTimeoutError):
        # the request went out: the provider may have accepted it
        return ProviderTimeout(f"{provider}: {kind}", ambiguous=True)
    if isinstance(exc, ConnectTimeoutError):
        return ProviderTimeout(f"{provider}: {kind}", ambiguous=False)
    if isinstance(exc, ConnectionError):  # never connected: nothing was sent
        return ConnectionFailed(f"{provider}: {kind}")
    if isinstance(exc, HTTPClientError):  # e.g. ConnectionClosedError mid-request
        return ConnectionFailed(f"{provider}: {kind}", ambiguous=True)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return NotConfigured(f"{provider}: {kind}")
    if isinstance(exc, ParamValidationError):
        return ContentRejected(f"{provider}: request does not validate")
    if isinstance(exc, BotoCoreError):
        return PermanentError(f"{provider}: {kind}")
    raise TypeError(f"not a botocore error: {kind}")
