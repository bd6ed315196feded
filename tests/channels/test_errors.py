from __future__ import annotations

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from channels import exceptions as ex
from channels.errors import CODE_TABLE, QUOTA_RETRY_AFTER_S, classify_code, from_botocore

from .awserrors import wire_error

NOT_VERIFIED = ("Email address is not verified. The following identities failed the check "
                "in region EU-WEST-1: buyer@example.com")

# service, HTTP status, error code, message -> class, retry_after
CASES = [
    ("sesv2", 429, "TooManyRequestsException", "Too Many Requests", ex.Throttled, None),
    ("sesv2", 400, "LimitExceededException", "Limit exceeded", ex.Throttled,
     QUOTA_RETRY_AFTER_S),
    ("sesv2", 400, "MessageRejected", NOT_VERIFIED, ex.RejectedSender, None),
    ("sesv2", 400, "MessageRejected", "Message content contains a virus", ex.ContentRejected,
     None),
    ("sesv2", 400, "MailFromDomainNotVerifiedException", "MAIL FROM domain not verified",
     ex.RejectedSender, None),
    ("sesv2", 400, "SendingPausedException", "Sending paused", ex.AccountPaused, None),
    ("sesv2", 400, "AccountSuspendedException", "Account suspended", ex.AccountPaused, None),
    ("sesv2", 404, "NotFoundException", "Configuration set does not exist", ex.NotConfigured,
     None),
    ("sesv2", 400, "BadRequestException", "Invalid subject", ex.ContentRejected, None),
    ("sesv2", 500, "InternalFailure", "Internal failure", ex.ProviderUnavailable, None),
    ("sesv2", 503, "SomethingNew", "Unavailable", ex.ProviderUnavailable, None),
    ("ses", 400, "Throttling", "Maximum sending rate exceeded.", ex.Throttled, None),
    ("ses", 400, "Throttling", "Daily message quota exceeded.", ex.Throttled,
     QUOTA_RETRY_AFTER_S),
    ("ses", 400, "MessageRejected", NOT_VERIFIED, ex.RejectedSender, None),
    ("ses", 400, "AccountSendingPausedException", "Paused", ex.AccountPaused, None),
    ("ses", 400, "ConfigurationSetDoesNotExist", "No such set", ex.NotConfigured, None),
    ("sns", 400, "Throttling", "Rate exceeded", ex.Throttled, None),
    ("sns", 500, "InternalError", "Internal error", ex.ProviderUnavailable, None),
    ("sns", 400, "InvalidParameter",
     "Invalid parameter: PhoneNumber Reason: +8613812345678 is not valid to publish",
     ex.InvalidAddress, None),
    ("sns", 400, "InvalidParameter", "SMS message must be less than 1600 bytes",
     ex.MessageTooLong, None),
    ("sns", 403, "AuthorizationError", "Not authorized", ex.NotConfigured, None),
    ("sns", 400, "SomethingNew", "Who knows", ex.PermanentError, None),
    ("pinpoint-sms-voice-v2", 400, "ThrottlingException", "Rate exceeded", ex.Throttled, None),
    ("pinpoint-sms-voice-v2", 402, "ServiceQuotaExceededException", "Spend limit",
     ex.AccountPaused, None),
    ("pinpoint-sms-voice-v2", 500, "InternalServerException", "Oops", ex.ProviderUnavailable,
     None),
    ("pinpoint-sms-voice-v2", 400, "ValidationException",
     "DestinationPhoneNumber is opted out", ex.InvalidAddress, None),
]


@pytest.mark.parametrize(("service", "status", "code", "message", "cls", "retry_after"), CASES)
def test_real_wire_errors_map_to_delivery_errors(
    service: str, status: int, code: str, message: str,
    cls: type[ex.DeliveryError], retry_after: float | None,
) -> None:
    client_error = wire_error(service, status, code, message)
    assert client_error.response["Error"]["Code"] == code  # botocore parsed the real code
    err = from_botocore(client_error, "prov")
    assert type(err) is cls
    assert err.retriable is cls.retriable
    assert err.provider_code == code
    assert err.retry_after == retry_after
    assert str(err).startswith(f"prov {code}")


def test_error_messages_mask_recipients() -> None:
    err = from_botocore(wire_error("sesv2", 400, "MessageRejected", NOT_VERIFIED), "ses")
    assert "buyer@example.com" not in str(err) and "b***@example.com" in str(err)
    err = from_botocore(wire_error("sns", 400, "InvalidParameter",
                                   "Invalid parameter: PhoneNumber Reason: +8613812345678"), "sns")
    assert "13812345678" not in str(err)


def test_table_only_holds_delivery_errors_and_both_retry_sides() -> None:
    classes = set(CODE_TABLE.values())
    assert all(issubclass(c, ex.DeliveryError) for c in classes)
    assert any(c.retriable for c in classes) and any(not c.retriable for c in classes)


@pytest.mark.parametrize(("status", "cls"), [
    (429, ex.Throttled), (500, ex.ProviderUnavailable), (502, ex.ProviderUnavailable),
    (400, ex.PermanentError), (None, ex.PermanentError),
])
def test_unknown_codes_fall_back_on_status(status: int | None, cls: type) -> None:
    assert classify_code("NeverSeenBefore", "", status) is cls


@pytest.mark.parametrize(("exc", "cls", "ambiguous"), [
    (ReadTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com"),
     ex.ProviderTimeout, True),
    (ConnectTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com"),
     ex.ProviderTimeout, False),
    (EndpointConnectionError(endpoint_url="https://sns.eu-west-1.amazonaws.com"),
     ex.ConnectionFailed, False),
    (ConnectionClosedError(endpoint_url="https://sns.eu-west-1.amazonaws.com"),
     ex.ConnectionFailed, True),
    (NoCredentialsError(), ex.NotConfigured, False),
    (ParamValidationError(report="Invalid type for parameter Message"),
     ex.ContentRejected, False),
])
def test_transport_errors(exc: Exception, cls: type, ambiguous: bool) -> None:
    err = from_botocore(exc, "ses")
    assert type(err) is cls
    assert err.ambiguous is ambiguous


def test_non_botocore_errors_are_not_swallowed() -> None:
    with pytest.raises(TypeError):
        from_botocore(ValueError("bug"), "ses")
