from __future__ import annotations

import pytest

from channels.pii import mask_address, mask_email, mask_phone, scrub


@pytest.mark.parametrize(("raw", "masked"), [
    ("alice@example.com", "a***@example.com"),
    ("  bob.smith+shop@mail.example.cn ", "b***@mail.example.cn"),
    ("x@y.io", "x***@y.io"),
    ("no-at-sign", "***"),
    ("@example.com", "***"),
])
def test_mask_email(raw: str, masked: str) -> None:
    assert mask_email(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [
    ("+8613812345678", "+86138****5678"),
    ("+86 138-1234-5678", "+86138****5678"),
    ("13812345678", "138****5678"),
    ("+14155552671", "+141****2671"),
    ("12345", "***45"),
])
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_address_picks_the_kind() -> None:
    assert mask_address("alice@example.com") == "a***@example.com"
    assert mask_address("+8613812345678") == "+86138****5678"


def test_scrub_masks_addresses_inside_provider_messages() -> None:
    text = ("Email address is not verified. The following identities failed the check "
            "in region EU-WEST-1: buyer@example.com, +8613812345678")
    out = scrub(text)
    assert "buyer@example.com" not in out and "13812345678" not in out
    assert "b***@example.com" in out and "+86138****5678" in out
    assert scrub("SMS message must be less than 1600 bytes") == \
        "SMS message must be less than 1600 bytes"
