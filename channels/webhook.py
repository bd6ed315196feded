"""Signed webhooks: an HTTPS POST of the JSON payload to a configured endpoint.

``X-Ordercast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
lets the receiver check origin and freshness with :func:`verify_signature`.
Endpoints are configured by name; error messages carry the name, never the
URL (it may hold a token) or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from .base import Receipt, WebhookMessage, rate_limited
from .exceptions import (
    ConnectionFailed,
    ContentRejected,
    MessageTooLong,
    NotConfigured,
    PermanentError,
    ProviderTimeout,
    ProviderUnavailable,
    Throttled,
)
from .ratelimit import RateLimiter

SIGNATURE_HEADER = "X-Ordercast-Signature"
ID_HEADER = "X-Ordercast-Id"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    url: str = field(repr=False)
    secret: SecretStr = field(repr=False)
    timeout_s: float = 5.0


def _key(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: SecretStr | str | bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: SecretStr | str | bytes, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(secret: SecretStr | str | bytes, header: str, body: bytes | str,
                     tolerance_s: float = 300, now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is
    within ``tolerance_s`` of now (replay protection). Constant-time compare."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return
    raise NotConfigured(f"webhook {name}: endpoint must use https")


class WebhookChannel:
    name = "webhook"
    provider = "webhook"
    max_send_rate = 50.0  # per process, to be gentle with merchants' servers
    max_body_chars = 256_000

    def __init__(self, endpoints: Mapping[str, WebhookEndpoint], *,
                 session: aiohttp.ClientSession | None = None,
                 limiter: RateLimiter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        for name, endpoint in endpoints.items():
            _check_url(name, endpoint.url)
        self.endpoints = dict(endpoints)
        self.limiter = limiter
        self._session = session
        self._own_session = session is None
        self._clock = clock

    def request(self, message: WebhookMessage) -> tuple[WebhookEndpoint, bytes, dict[str, str]]:
        endpoint = self.endpoints.get(message.endpoint)
        if endpoint is None:
            raise NotConfigured(f"webhook {message.endpoint}: no such endpoint")
        body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode()
        if len(body) > self.max_body_chars:
            raise MessageTooLong(f"webhook {message.endpoint}: body of {len(body)} bytes")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature_header(endpoint.secret, body, int(self._clock())),
            ID_HEADER: message.notification_id,
        }
        return endpoint, body, headers

    async def send(self, message: WebhookMessage) -> Receipt:
        endpoint, body, headers = self.request(message)
        return await rate_limited(
            self.limiter, lambda: self._post(message.endpoint, endpoint, body, headers))

    async def _post(self, name: str, endpoint: WebhookEndpoint, body: bytes,
                    headers: dict[str, str]) -> Receipt:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=endpoint.timeout_s),
            ) as response:
                status, reply = response.status, response.headers
        except TimeoutError:
            raise ProviderTimeout(f"webhook {name}: no answer in {endpoint.timeout_s:g}s",
                                  ambiguous=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectionFailed(f"webhook {name}: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"webhook {name}: {type(exc).__name__}",
                                   ambiguous=True) from None
        if 200 <= status < 300:
            return Receipt(self.provider, reply.get("X-Request-Id") or headers[ID_HEADER])
        raise _status_error(name, status, reply.get("Retry-After"), self._clock())

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None


def _status_error(name: str, status: int, retry_after: str | None, now: float) -> Exception:
    text = f"webhook {name}: HTTP {status}"
    code = str(status)
    delay = retry_after_seconds(retry_after, now)
    if status == 429:
        return Throttled(text, retry_after=delay, provider_code=code)
    if status >= 500:
        return ProviderUnavailable(text, retry_after=delay, provider_code=code)
    if status == 408:
        return ProviderTimeout(text, provider_code=code)
    if status == 413:
        return MessageTooLong(text, provider_code=code)
    if status in (400, 422):
        return ContentRejected(text, provider_code=code)
    if 300 <= status < 400 or status in (401, 403, 404, 405, 410):
        return NotConfigured(text, provider_code=code)  # wrong URL or secret: fix config
    return PermanentError(text, provider_code=code)
