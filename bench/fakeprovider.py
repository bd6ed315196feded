"""A fast stand-in for SES v2 and SNS on loopback, for throughput and latency runs.

moto is the reference emulator (real errors, readable mailbox) but spends a few
milliseconds per call; this server answers ``SendEmail`` and ``Publish`` in
microseconds plus a configurable latency, and records for each call when it
arrived and which order it was about (the order number found in the subject or
text, else the ``notification_id`` email tag), so a run can compute end-to-end
latency as call time minus publish time.

    python -m bench.fakeprovider --port 18555 --latency-ms 1

Control endpoints: ``GET /_bench/calls`` (JSON ``[[epoch_s, key, api], ...]``),
``GET /_bench/count``, ``POST /_bench/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

ORDER_NO = re.compile(r"OC\d{9}")
_ids = itertools.count(1)


def order_key(*texts: str | None) -> str | None:
    """The bench's order number (``OC`` + 9 digits) in the first text that has one."""
    for text in texts:
        if text and (m := ORDER_NO.search(text)):
            return m.group(0)
    return None


def ses_key(body: dict[str, Any]) -> str:
    simple = (body.get("Content") or {}).get("Simple") or {}
    subject = (simple.get("Subject") or {}).get("Data")
    text = ((simple.get("Body") or {}).get("Text") or {}).get("Data")
    key = order_key(subject, text)
    if key:
        return key
    tags = {t.get("Name"): t.get("Value") for t in body.get("EmailTags") or ()}
    return tags.get("notification_id") or ""


def _message_id() -> str:
    return f"bench-{next(_ids):012d}"


class Recorder:
    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls: list[tuple[float, str, str]] = []

    async def _pause(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    async def ses_send(self, request: web.Request) -> web.Response:
        at = time.time()
        body = json.loads(await request.read() or b"{}")
        self.calls.append((at, ses_key(body), "ses"))
        await self._pause()
        return web.json_response({"MessageId": _message_id()})

    async def ses_account(self, request: web.Request) -> web.Response:
        return web.json_response({"SendQuota": {"Max24HourSend": 1e9, "MaxSendRate": 1e6,
                                                "SentLast24Hours": 0}})

    async def query_api(self, request: web.Request) -> web.Response:
        """SNS (and SES v1) speak the form-encoded Query protocol on ``POST /``."""
        at = time.time()
        form = parse_qs((await request.read()).decode())
        action = (form.get("Action") or [""])[0]
        if action == "Publish":
            self.calls.append((at, order_key((form.get("Message") or [""])[0]) or "", "sns"))
            await self._pause()
            return _xml("Publish", f"<MessageId>{_message_id()}</MessageId>",
                        "http://sns.amazonaws.com/doc/2010-03-31/")
        if action == "GetSendQuota":
            return _xml("GetSendQuota", "<Max24HourSend>1e9</Max24HourSend>"
                        "<MaxSendRate>1000000</MaxSendRate><SentLast24Hours>0</SentLast24Hours>",
                        "http://ses.amazonaws.com/doc/2010-12-01/")
        return web.Response(status=400, text=f"unsupported action {action!r}")

    async def list_calls(self, request: web.Request) -> web.Response:
        return web.json_response(self.calls)

    async def count(self, request: web.Request) -> web.Response:
        return web.json_response({"count": len(self.calls)})

    async def reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        return web.json_response({"count": 0})


def _xml(action: str, result: str, ns: str) -> web.Response:
    body = (f'<{action}Response xmlns="{ns}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
            f"</{action}Response>")
    return web.Response(text=body, content_type="text/xml")


def make_app(latency_s: float = 0.001) -> web.Application:
    rec = Recorder(latency_s)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.add_routes([
        web.post("/v2/email/outbound-emails", rec.ses_send),
        web.get("/v2/email/account", rec.ses_account),
        web.post("/", rec.query_api),
        web.get("/_bench/calls", rec.list_calls),
        web.get("/_bench/count", rec.count),
        web.post("/_bench/reset", rec.reset),
    ])
    return app


class FakeProvider:
    """The server in its own process (so its CPU never competes with the bench's
    GIL); a context manager that always stops it."""

    def __init__(self, port: int, latency_ms: float = 1.0, log: Path | None = None) -> None:
        self.port = port
        self.latency_ms = latency_ms
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> FakeProvider:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.fakeprovider", "--port", str(self.port),
                 "--latency-ms", str(self.latency_ms)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent, start_new_session=True)
        finally:
            if self.log:
                out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake provider exited with {self.proc.returncode}")
            try:
                self.count()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"fake provider did not answer on :{self.port}")

    def _get(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.url + path, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def count(self) -> int:
        return int(self._get("/_bench/count")["count"])

    def calls(self) -> list[tuple[float, str, str]]:
        return [tuple(c) for c in self._get("/_bench/calls")]

    def reset(self) -> None:
        self._get("/_bench/reset", "POST")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=1.0)
    args = parser.parse_args()
    web.run_app(make_app(args.latency_ms / 1000), host="127.0.0.1", port=args.port,
                print=None, access_log=None)


if __name__ == "__main__":
    main()
