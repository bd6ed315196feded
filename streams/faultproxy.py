"""A fault-injecting reverse proxy for the local AWS emulator.

Forwards every request to the upstream (moto_server) unchanged, except that
it can be told, at runtime, to answer a fraction of one service's calls with
an AWS-shaped throttling error, a 5xx, or silence past the client's timeout:

    POST /__fault__        {"mode": "throttle"|"5xx"|"timeout"|"timeout-after-send"|"none",
                            "fraction": 0.5, "duration_s": 10, "match": "ses"|"sns"|null,
                            "hang_s": 30}
    GET  /__fault__/stats  {"ses": {"forwarded": 3, "throttle": 1}, ...}
    POST /__fault__/reset  fault off, counters cleared

``timeout-after-send`` forwards the call and then withholds the answer: the
provider accepted the message but the client sees a timeout.  Errors follow
each API's wire protocol (SES v2 rest-json, SES v1 and SNS query XML, End User
Messaging JSON) so botocore parses the real error codes.

    python -m streams.faultproxy --listen 127.0.0.1:15001 --upstream http://127.0.0.1:15000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
from collections import defaultdict
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

MODES = ("none", "throttle", "5xx", "timeout", "timeout-after-send")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"}
_XML_NS = {"ses": "http://ses.amazonaws.com/doc/2010-12-01/",
           "sns": "http://sns.amazonaws.com/doc/2010-03-31/"}


@dataclass
class Fault:
    mode: str = "none"
    fraction: float = 1.0
    duration_s: float | None = None  # None: until changed
    match: str | None = None  # service name; None: every service
    hang_s: float = 30.0


def service_of(request: web.BaseRequest, body: bytes) -> str:
    """"ses", "sns", "sms-voice", ... from the SigV4 credential scope, falling
    back to the path, X-Amz-Target, host and the query API's Action."""
    scope = _SCOPE.search(request.headers.get("Authorization", ""))
    if scope:
        return scope.group(1)
    if request.headers.get("X-Amz-Target", "").startswith("PinpointSMSVoiceV2"):
        return "sms-voice"
    if request.path.startswith("/v2/email"):
        return "ses"
    host = {"email": "ses", "sns": "sns"}.get(request.host.split(".")[0])
    if host:
        return host
    action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    if action:
        return "sns" if action in ("Publish", "CreateTopic", "Subscribe") else "ses"
    return "other"


def error_response(request: web.BaseRequest, service: str, kind: str) -> web.Response:
    """An error in the wire format of the API the request was made to."""
    status = 503 if kind == "5xx" else 400
    code = "ServiceUnavailable" if kind == "5xx" else "Throttling"
    message = "Service unavailable" if kind == "5xx" else (
        "Maximum sending rate exceeded." if service == "ses" else "Rate exceeded")
    if request.path.startswith("/v2/email"):  # SES v2: rest-json, throttling is a 429
        code, status = ("TooManyRequestsException", 429) if kind == "throttle" else (code, status)
        return web.json_response({"message": message}, status=status,
                                 headers={"x-amzn-ErrorType": code})
    if request.headers.get("X-Amz-Target"):  # JSON protocol
        code = "ThrottlingException" if kind == "throttle" else "InternalServerException"
        return web.Response(status=status, content_type="application/x-amz-json-1.0",
                            text=json.dumps({"__type": code, "message": message}))
    fault_type = "Receiver" if kind == "5xx" else "Sender"
    xml = (f'<ErrorResponse xmlns="{_XML_NS.get(service, _XML_NS["sns"])}"><Error>'
           f"<Type>{fault_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
           "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")
    return web.Response(status=status, content_type="text/xml", text=xml)


class FaultProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.host, self.port = host, port
        self.fault = Fault()
        self.stats: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._until: float | None = None
        self._owed = 0.0  # fraction accumulator: exactly `fraction` of matching calls fail
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set_fault(self, mode: str = "none", fraction: float = 1.0,
                  duration_s: float | None = None, match: str | None = None,
                  hang_s: float = 30.0) -> None:
        if mode not in MODES or not 0 <= fraction <= 1:
            raise ValueError(f"mode must be one of {MODES} and fraction within [0, 1]")
        self.fault = Fault(mode, fraction, duration_s, match, hang_s)
        self._owed = 0.0
        self._until = None if duration_s is None else asyncio.get_running_loop().time() + duration_s

    def reset(self) -> None:
        self.set_fault()
        self.stats.clear()

    def _inject(self, service: str) -> str | None:
        fault = self.fault
        if fault.mode == "none" or fault.match not in (None, service):
            return None
        if self._until is not None and asyncio.get_running_loop().time() >= self._until:
            self.set_fault()
            return None
        self._owed += fault.fraction
        if self._owed >= 1:
            self._owed -= 1
            return fault.mode
        return None

    async def _control(self, request: web.Request) -> web.Response:
        try:
            self.set_fault(**await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(asdict(self.fault))

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"fault": asdict(self.fault), **self.stats})

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return await self._stats(request)

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        service = service_of(request, body)
        kind = None if request.path.startswith("/moto-api") else self._inject(service)
        self.stats[service][kind or "forwarded"] += 1
        if kind in ("throttle", "5xx"):
            return error_response(request, service, kind)
        if kind == "timeout":
            await asyncio.sleep(self.fault.hang_s)
            return web.Response(status=504)
        response = await self._forward(request, body)
        if kind == "timeout-after-send":
            await asyncio.sleep(self.fault.hang_s)
        return response

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            async with self._session.request(request.method, self.upstream + request.path_qs,
                                             headers=headers, data=body,
                                             allow_redirects=False) as upstream:
                payload = await upstream.read()
                reply = {k: v for k, v in upstream.headers.items()
                         if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=upstream.status, headers=reply, body=payload)
        except aiohttp.ClientError as exc:  # upstream down: say so, as a gateway would
            return web.Response(status=502, text=f"upstream failed: {type(exc).__name__}")

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_post("/__fault__", self._control)
        app.router.add_get("/__fault__/stats", self._stats)
        app.router.add_post("/__fault__/reset", self._reset)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, shutdown_timeout=1.0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _serve(listen: str, upstream: str) -> None:
    host, _, port = listen.rpartition(":")
    proxy = FaultProxy(upstream, host or "127.0.0.1", int(port))
    await proxy.start()
    print(f"fault proxy on {proxy.url} -> {proxy.upstream}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.faultproxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:15001", help="host:port to listen on")
    parser.add_argument("--upstream", default="http://127.0.0.1:15000", help="moto_server URL")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.listen, args.upstream))


if __name__ == "__main__":
    main()
