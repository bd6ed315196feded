"""Card-key link redemption: ``GET /k/{token}`` (served by ``streams.web``).

A valid, unexpired token is redeemed once: its nonce goes into a changelogged
table before the buyer is sent (303) to the shop's own card-key page. The key
itself never passes through ordercast. The table is keyed by nonce and written
from web requests, so it uses the producer's partitioner, and each request is
answered by the worker that owns the nonce's partition.

Rejections answer with a JSON error code and never quote the token, its card
key reference or the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from faust.types import TP
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import state
from .app import app
from .cardkey import CardKeyLinkError, Claims, TokenExpired, TokenTampered, TokenUsed
from .clock import now_ms

REF = "{ref}"
SWEEP_GRACE_S = 300  # keep a nonce a little past its expiry: clocks differ between hosts


class LinkPageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERCAST_", frozen=True, extra="ignore")
    # the shop's page that shows a card key after login; {ref} = the card key reference
    card_key_page_url: str = "https://shop.example/card-keys/{ref}"

    @field_validator("card_key_page_url")
    @classmethod
    def _has_ref(cls, value: str) -> str:
        if REF not in value:
            raise ValueError(f"must contain {REF}, where the card key reference goes")
        return value


@lru_cache(maxsize=1)
def page_settings() -> LinkPageSettings:
    return LinkPageSettings()


def page_url(card_key_ref: str, template: str | None = None) -> str:
    template = template or page_settings().card_key_page_url
    return template.replace(REF, quote(card_key_ref, safe=""))


@dataclass(frozen=True)
class Rejection:
    status: int
    code: str


REJECTIONS: dict[type[CardKeyLinkError], Rejection] = {
    TokenTampered: Rejection(400, "link_invalid"),
    TokenExpired: Rejection(410, "link_expired"),
    TokenUsed: Rejection(410, "link_used"),
}


def rejection(exc: CardKeyLinkError) -> Rejection:
    return next(r for cls, r in REJECTIONS.items() if isinstance(exc, cls))


redemptions = app.Table("card-key-redemptions", default=None, use_partitioner=True,
                        help="token nonce -> {at ms, expires_at s, partition}")


def redemption(claims: Claims, partition: int, now: int) -> dict[str, int]:
    return {"at": now, "expires_at": claims.expires_at, "partition": partition}


def check_unused(claims: Claims) -> None:
    if redemptions.data.get(claims.nonce) is not None:
        raise TokenUsed("card-key link was already used")


def expired_nonces(entries: dict, now_s: float, grace_s: int = SWEEP_GRACE_S) -> list[str]:
    """Nonces whose tokens expired long enough ago that verify() refuses them anyway."""
    return [nonce for nonce, value in entries.items()
            if value and value["expires_at"] + grace_s < now_s]


@app.timer(interval=60.0)
async def forget_expired_redemptions() -> None:
    """Keep the table bounded: a nonce past its token's expiry needs no record."""
    actives = app.assignor.assigned_actives()
    topic = redemptions.changelog_topic.get_topic_name()
    for nonce in expired_nonces(dict(redemptions.data.items()), now_ms() / 1000):
        partition = redemptions.data[nonce]["partition"]
        if TP(topic, partition) in actives:
            state.drop(redemptions, partition, nonce)
