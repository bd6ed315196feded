"""Per-merchant configuration: who the shop is, who its operators are, what they watch.

The file (``deploy/merchants.example.json``) is ``{"merchants": [ {...}, ... ]}``.
An entry with ``merchant_id`` ``"default"`` is used for every merchant id the
file does not list; without one, a built-in default is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

DEFAULT_ID = "default"


class MerchantConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    merchant_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    default_locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"  # operators' local time in their emails
    sender_email: EmailStr
    operator_emails: tuple[EmailStr, ...] = ()
    risk_contacts: tuple[EmailStr, ...] = ()
    # operator copy for orders whose amount is above this (minor units); None = never
    amount_threshold_minor: int | None = Field(default=None, ge=0)
    # operator copy once one buyer places this many orders within an hour; 0 = never
    high_frequency_orders: int = Field(default=0, ge=0)
    sensitive_skus: frozenset[str] = frozenset()
    # marketing goes by SMS only where the merchant has opted in (cost, consent)
    marketing_sms_enabled: bool = False
    webhook_endpoint: str | None = None
    template_dir: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Merchants(dict[str, MerchantConfig]):
    """``merchants[mid]`` never raises: unknown ids get the default merchant."""

    def __missing__(self, merchant_id: str) -> MerchantConfig:
        return dict.__getitem__(self, DEFAULT_ID)

    def get(self, merchant_id: str, default: object = None) -> MerchantConfig:  # type: ignore[override]
        return self[merchant_id]


BUILTIN_DEFAULT = MerchantConfig(
    merchant_id=DEFAULT_ID, name="Shop", sender_email="noreply@ordercast.example"
)


def load_merchants(path: Path | str | None, *, default: MerchantConfig | None = None) -> Merchants:
    """Read the merchants file. Relative ``template_dir`` entries are resolved
    against the file's folder. Raises pydantic's ValidationError on a bad entry."""
    merchants = Merchants()
    merchants[DEFAULT_ID] = default or BUILTIN_DEFAULT
    if path is None:
        return merchants
    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    for entry in raw.get("merchants", []):
        cfg = MerchantConfig.model_validate(entry)
        if cfg.template_dir is not None and not cfg.template_dir.is_absolute():
            cfg = cfg.model_copy(update={"template_dir": path.parent / cfg.template_dir})
        if cfg.merchant_id in merchants and cfg.merchant_id != DEFAULT_ID:
            raise ValueError(f"merchant {cfg.merchant_id!r} listed twice in {path.name}")
        merchants[cfg.merchant_id] = cfg
    return merchants
