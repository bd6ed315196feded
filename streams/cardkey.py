"""Signed, expiring "view card key" links.

A token carries the card key *reference*, the notification id, a random nonce
and its expiry, signed with HMAC-SHA256 (itsdangerous). It never carries the
key. "Works once" is the redemption table's job: the web handler records the
nonce when it shows the key and raises ``TokenUsed`` for a second visit.

    CardKeyLinkError
    ├── TokenTampered   bad signature, wrong secret, garbled token
    ├── TokenExpired    signature fine, past its expiry
    └── TokenUsed       already redeemed (raised by the redemption table)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from itsdangerous import BadData, URLSafeSerializer

SALT = "ordercast.card-key-link.v1"
DEFAULT_TTL_S = 1800  # long enough to open the email, short enough to limit a leaked link
LINK_TEMPLATES = frozenset({"card_key_ready"})
LINK_CHANNELS = frozenset({"email", "inapp"})


class CardKeyLinkError(Exception):
    """A card-key link that must not show the key. Messages never quote the
    token or the secret."""

    retriable = False


class TokenTampered(CardKeyLinkError):
    pass


class TokenExpired(CardKeyLinkError):
    pass


class TokenUsed(CardKeyLinkError):
    pass


class _HasSecret(Protocol):
    def get_secret_value(self) -> str: ...


Secret = str | bytes | _HasSecret


@dataclass(frozen=True)
class Claims:
    card_key_ref: str
    notification_id: str
    nonce: str  # the redemption table's key
    expires_at: int  # epoch seconds


def _serializer(secret: Secret) -> URLSafeSerializer:
    raw = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    if not raw:
        raise ValueError("card-key link secret is empty")
    return URLSafeSerializer(raw, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def mint(card_key_ref: str, notification_id: str, secret: Secret, ttl_s: int = DEFAULT_TTL_S,
         now: float | None = None) -> str:
    now = time.time() if now is None else now
    payload = {"r": card_key_ref, "n": notification_id, "x": secrets.token_urlsafe(12),
               "e": int(now) + ttl_s}
    return str(_serializer(secret).dumps(payload))


def verify(token: str, secret: Secret, now: float | None = None) -> Claims:
    """Claims of a valid, unexpired token; ``TokenTampered`` / ``TokenExpired``."""
    serializer = _serializer(secret)
    try:
        payload = serializer.loads(token)
        claims = Claims(str(payload["r"]), str(payload["n"]), str(payload["x"]),
                        int(payload["e"]))
    except (BadData, KeyError, TypeError, ValueError):
        raise TokenTampered("card-key link signature does not verify") from None
    now = time.time() if now is None else now
    if now >= claims.expires_at:
        raise TokenExpired("card-key link has expired")
    return claims


def link(base_url: str, token: str) -> str:
    """``https://shop.example/k`` + token -> ``https://shop.example/k/<token>``."""
    return f"{base_url.rstrip('/')}/{token}"


def needs_link(template: str, channel: str) -> bool:
    """Whether rendering this request needs a freshly minted ``card_key_url``."""
    return template in LINK_TEMPLATES and channel in LINK_CHANNELS
