from __future__ import annotations

import pytest

from channels import exceptions as ex


@pytest.mark.parametrize(("cls", "retriable"), [
    (ex.Throttled, True),
    (ex.ProviderUnavailable, True),
    (ex.ProviderTimeout, True),
    (ex.ConnectionFailed, True),
    (ex.RejectedSender, False),
    (ex.InvalidAddress, False),
    (ex.MessageTooLong, False),
    (ex.ContentRejected, False),
    (ex.NotConfigured, False),
    (ex.AccountPaused, False),
])
def test_tree_and_retriable_flag(cls: type[ex.DeliveryError], retriable: bool) -> None:
    err = cls("boom")
    assert isinstance(err, ex.DeliveryError)
    assert isinstance(err, ex.RetriableError if retriable else ex.PermanentError)
    assert err.retriable is retriable
    assert err.error_class == cls.__name__


def test_attributes_travel_with_the_error() -> None:
    err = ex.Throttled("ses Throttling", retry_after=2.5, provider_code="Throttling")
    assert (err.retry_after, err.provider_code, str(err)) == (2.5, "Throttling", "ses Throttling")
    assert "retry_after=2.5" in repr(err) and "Throttled" in repr(err)
    plain = ex.InvalidAddress("bad")
    assert plain.retry_after is None and plain.provider_code is None


def test_ambiguous_defaults_false_and_can_be_set_per_error() -> None:
    assert ex.ProviderTimeout("t").ambiguous is False
    assert ex.ProviderTimeout("t", ambiguous=True).ambiguous is True
    assert ex.ProviderTimeout("t").ambiguous is False  # the class default is untouched


def test_docstring_draws_every_class() -> None:
    doc = ex.__doc__ or ""
    for cls in vars(ex).values():
        if isinstance(cls, type) and issubclass(cls, ex.DeliveryError):
            assert cls.__name__ in doc
