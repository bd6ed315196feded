"""Webhook channel against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from pydantic import SecretStr

from channels.base import WebhookMessage
from channels.exceptions import (
    ConnectionFailed,
    ContentRejected,
    DeliveryError,
    NotConfigured,
    ProviderTimeout,
    ProviderUnavailable,
    Throttled,
)
from channels.webhook import (
    ID_HEADER,
    SIGNATURE_HEADER,
    WebhookChannel,
    WebhookEndpoint,
    retry_after_seconds,
    signature_header,
    verify_signature,
)

from .motoserver import free_port

SECRET = "whsec_super-secret-value-1234"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def receiver(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)  # the receiver's log
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook?token=url-token-77"
    finally:
        await runner.cleanup()


async def deliver(handler: Handler, *, timeout_s: float = 2.0,
                  payload: dict[str, object] | None = None) -> object:
    async with receiver(handler) as url:
        channel = WebhookChannel({"merchant-1": WebhookEndpoint(url, SecretStr(SECRET),
                                                                timeout_s)})
        try:
            return await channel.send(WebhookMessage("n-1", "merchant-1",
                                                     payload or {"order_id": "12345"}))
        finally:
            await channel.close()


def test_delivers_a_signed_post() -> None:
    seen: list[tuple[str, str, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.headers[SIGNATURE_HEADER], request.headers[ID_HEADER],
                     await request.read()))
        return web.json_response({"ok": True}, headers={"X-Request-Id": "r-9"})

    receipt = asyncio.run(deliver(handler, payload={"order_id": "12345", "状态": "已支付"}))
    [(signature, notification_id, body)] = seen
    assert notification_id == "n-1"
    assert json.loads(body) == {"order_id": "12345", "状态": "已支付"}
    assert verify_signature(SECRET, signature, body)
    assert (receipt.provider, receipt.provider_message_id) == ("webhook", "r-9")  # type: ignore[attr-defined]


def reply(status: int, headers: dict[str, str] | None = None, delay: float = 0) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, headers=headers)
    return handler


@pytest.mark.parametrize(("handler", "error", "retry_after"), [
    (reply(429, {"Retry-After": "7"}), Throttled, 7.0),
    (reply(429), Throttled, None),
    (reply(503), ProviderUnavailable, None),
    (reply(500), ProviderUnavailable, None),
    (reply(404), NotConfigured, None),
    (reply(401), NotConfigured, None),
    (reply(302, {"Location": "https://elsewhere.example/"}), NotConfigured, None),
    (reply(400), ContentRejected, None),
    (reply(422), ContentRejected, None),
])
def test_status_codes_map_to_typed_errors(handler: Handler, error: type[DeliveryError],
                                          retry_after: float | None,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(error) as info:
        asyncio.run(deliver(handler))
    assert info.value.retry_after == retry_after
    assert_no_secrets(info.value, caplog.text)


def test_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderTimeout) as info:
        asyncio.run(deliver(reply(200, delay=2.0), timeout_s=0.2))
    assert info.value.ambiguous
    assert_no_secrets(info.value, caplog.text)


def test_connection_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}/hook?token=url-token-77"
    channel = WebhookChannel({"merchant-1": WebhookEndpoint(url, SecretStr(SECRET))})

    async def run() -> None:
        try:
            await channel.send(WebhookMessage("n-1", "merchant-1", {}))
        finally:
            await channel.close()

    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(run())
    assert_no_secrets(info.value, caplog.text)


def assert_no_secrets(err: BaseException, logs: str) -> None:
    for text in (str(err), repr(err), logs):
        assert SECRET not in text
        assert "url-token-77" not in text  # the URL can carry credentials too
    assert "merchant-1" in str(err)


def test_config_never_shows_the_secret() -> None:
    endpoint = WebhookEndpoint("https://hooks.example/x?token=url-token-77", SecretStr(SECRET))
    channel = WebhookChannel({"m": endpoint})
    for text in (repr(endpoint), str(endpoint), repr(channel.endpoints)):
        assert SECRET not in text and "url-token-77" not in text


def test_unknown_endpoint_and_plain_http_are_not_configured() -> None:
    channel = WebhookChannel({})
    with pytest.raises(NotConfigured):
        asyncio.run(channel.send(WebhookMessage("n-1", "nobody", {})))
    with pytest.raises(NotConfigured):
        WebhookChannel({"m": WebhookEndpoint("http://hooks.example/x", SecretStr(SECRET))})


BODY = b'{"order_id":"12345"}'


@pytest.mark.parametrize(("secret", "header", "body", "now", "valid"), [
    (SECRET, signature_header(SECRET, BODY, 1000), BODY, 1000, True),
    (SecretStr(SECRET), signature_header(SECRET, BODY, 1000), BODY.decode(), 1299, True),
    (SECRET, signature_header(SECRET, BODY, 1000), BODY, 1301, False),  # stale
    (SECRET, signature_header(SECRET, BODY, 1000), BODY, 699, False),  # from the future
    ("other-secret", signature_header(SECRET, BODY, 1000), BODY, 1000, False),
    (SECRET, signature_header(SECRET, BODY, 1000), b'{"order_id":"99999"}', 1000, False),
    (SECRET, "t=1000", BODY, 1000, False),
    (SECRET, "garbage", BODY, 1000, False),
    # a second v1 (secret rotation) is accepted if either matches
    (SECRET, f"t=1000,v1={'0' * 64},{signature_header(SECRET, BODY, 1000).split(',')[1]}",
     BODY, 1000, True),
])
def test_verify_signature(secret: str | SecretStr, header: str, body: bytes | str,
                          now: float, valid: bool) -> None:
    assert verify_signature(secret, header, body, tolerance_s=300, now=now) is valid


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:30 GMT", 10.0),
])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    now = 1445412500.0  # 2015-10-21 07:28:20 UTC
    assert retry_after_seconds(value, now) == seconds
