"""Configuration: one frozen settings class per concern, read from ORDERCAST_* env vars.

Secrets are SecretStr so they never print; `redacted()` is what logs may show.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    model_config = _config("ORDERCAST_KAFKA_")
    bootstrap: str = "127.0.0.1:19092"
    partitions: int = 8
    # Namespaces every topic, e.g. "staging." or a test run's own prefix.
    topic_prefix: str = ""
    # How long the broker may hold a fetch with nothing new (streams.fetchwait).
    fetch_max_wait_ms: int = Field(default=100, ge=1, le=30_000)


class StackSettings(BaseSettings):
    """The local development stack (`ordercast stack up`)."""

    model_config = _config("ORDERCAST_STACK_")
    kafka_version: str = "3.9.1"  # 4.x works too: ORDERCAST_STACK_KAFKA_VERSION=4.1.1
    kafka_port: int = 19092
    controller_port: int = 19093
    kafka_heap: str = "512m"
    moto_port: int = 15000
    state_dir: Path = ROOT / ".var"
    cache_dir: Path = Path.home() / ".cache" / "ordercast"


class AwsSettings(BaseSettings):
    model_config = _config("ORDERCAST_AWS_")
    endpoint_url: str | None = None  # None = real AWS via the standard chain
    region: str = "us-east-1"
    ses_max_send_rate: float | None = None  # None: ask SES GetSendQuota
    sms_max_send_rate: float = 20.0
    concurrency: int = 32


class WorkerSettings(BaseSettings):
    model_config = _config("ORDERCAST_")
    app_id: str = "ordercast"
    role: Literal["all", "notify", "risk"] = "all"  # which agents this worker runs
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    store: str = "memory://"  # rocksdb:// for large tables
    data_dir: Path = ROOT / ".var" / "faust"
    ses_sender: str = "noreply@ordercast.example"
    link_secret: SecretStr = SecretStr("dev-only-link-secret-change-me")
    # the shop backend's bearer token for /inbox; unset, the inbox answers anyone
    # who reaches the web port (local runs), and the worker says so at start
    inbox_token: SecretStr | None = None
    link_base_url: str = "http://127.0.0.1:6066"
    link_ttl_s: int = 1800
    merchants_file: Path = ROOT / "deploy" / "merchants.example.json"
    retry_delays_s: tuple[float, ...] = (1.0, 5.0, 30.0)
    payment_reminder_min: float = 15.0
    recall_window_h: float = 24.0
    dedup_ttl_h: float = 72.0
    sms_default_region: str = "CN"
    # signed webhooks by endpoint name (a merchant's `webhook_endpoint`):
    # {"keyforge-orders": {"url": "https://...", "secret": "..."}}
    webhooks: dict[str, dict[str, SecretStr]] = {}
    # per-merchant risk rule overrides: {"m-1001": {"failures_per_ip": {"threshold": 20}}}
    risk_overrides: dict[str, dict[str, dict[str, int]]] = {}
    # How long each risk stage gathers events into one batch (an alert waits up to
    # both). The split's batches make the by-key records, one per partition, each
    # costly in faust: shorter costs CPU. The count stage's batches cost little.
    risk_split_batch_ms: float = Field(default=10.0, gt=0, le=1000)
    risk_count_batch_ms: float = Field(default=2.0, gt=0, le=1000)
    log_level: str = "info"


def redacted(settings: BaseSettings) -> dict[str, Any]:
    """Settings as a dict safe for logs: secrets stay masked."""
    return {k: ("**********" if isinstance(v, SecretStr) else v)
            for k, v in settings.__dict__.items()}


@lru_cache(maxsize=1)
def kafka() -> KafkaSettings:
    return KafkaSettings()


@lru_cache(maxsize=1)
def stack() -> StackSettings:
    return StackSettings()


@lru_cache(maxsize=1)
def aws() -> AwsSettings:
    return AwsSettings()


@lru_cache(maxsize=1)
def worker() -> WorkerSettings:
    return WorkerSettings()
