"""Signed card-key links: valid, tampered, wrong secret, expired."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import SecretStr

from streams.cardkey import (
    Claims,
    TokenExpired,
    TokenTampered,
    TokenUsed,
    link,
    mint,
    needs_link,
    verify,
)

SECRET = "s3cret-for-tests"
NOW = 1_714_566_600.0


def test_valid_token_gives_its_claims():
    token = mint("ck-ref-1", "nid-1", SECRET, now=NOW)
    claims = verify(token, SECRET, now=NOW + 1799)
    assert isinstance(claims, Claims)
    assert (claims.card_key_ref, claims.notification_id, claims.expires_at) == (
        "ck-ref-1", "nid-1", int(NOW) + 1800)


def test_each_mint_has_its_own_nonce():
    a = verify(mint("r", "n", SECRET, now=NOW), SECRET, now=NOW)
    b = verify(mint("r", "n", SECRET, now=NOW), SECRET, now=NOW)
    assert a.nonce != b.nonce


@pytest.mark.parametrize("age, ttl", [(1800, 1800), (5000, 1800), (61, 60)])
def test_expired(age, ttl):
    token = mint("r", "n", SECRET, ttl_s=ttl, now=NOW)
    with pytest.raises(TokenExpired):
        verify(token, SECRET, now=NOW + age)


def _flip(token: str, index: int) -> str:
    ch = "A" if token[index] != "A" else "B"
    return token[:index] + ch + token[index + 1:]


@pytest.mark.parametrize("mangle", [
    lambda t: _flip(t, 5),  # payload
    lambda t: _flip(t, len(t) - 3),  # signature
    lambda t: t + "x",
    lambda t: t.split(".")[0],  # signature stripped
    lambda t: "",
    lambda t: "not a token at all",
])
def test_tampered(mangle):
    token = mint("r", "n", SECRET, now=NOW)
    with pytest.raises(TokenTampered):
        verify(mangle(token), SECRET, now=NOW)


def test_forged_payload_with_a_longer_expiry_is_refused():
    token = mint("r", "n", SECRET, now=NOW)
    payload, sig = token.rsplit(".", 1)
    forged = base64.urlsafe_b64encode(
        json.dumps({"r": "r", "n": "n", "x": "y", "e": int(NOW) + 10**9}).encode()
    ).decode().rstrip("=")
    with pytest.raises(TokenTampered):
        verify(f"{forged}.{sig}", SECRET, now=NOW)


def test_wrong_secret_is_tampered_and_the_message_leaks_nothing():
    token = mint("r", "n", SECRET, now=NOW)
    with pytest.raises(TokenTampered) as info:
        verify(token, "another-secret", now=NOW)
    assert SECRET not in str(info.value) and token not in str(info.value)


def test_secretstr_is_accepted_and_empty_secret_refused():
    token = mint("r", "n", SecretStr(SECRET), now=NOW)
    assert verify(token, SECRET, now=NOW).card_key_ref == "r"
    with pytest.raises(ValueError):
        mint("r", "n", "", now=NOW)


def test_token_carries_no_key_material():
    token = mint("ck-ref-1", "nid-1", SECRET, now=NOW)
    payload = token.split(".")[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(decoded) == {"r", "n", "x", "e"}


def test_link_and_errors():
    token = mint("r", "n", SECRET, now=NOW)
    assert link("https://shop.example/k/", token) == f"https://shop.example/k/{token}"
    assert not TokenUsed.retriable and issubclass(TokenUsed, Exception)


@pytest.mark.parametrize("template, channel, needed", [
    ("card_key_ready", "email", True), ("card_key_ready", "inapp", True),
    ("card_key_ready", "sms", False), ("payment_succeeded", "email", False),
])
def test_needs_link(template, channel, needed):
    assert needs_link(template, channel) is needed
