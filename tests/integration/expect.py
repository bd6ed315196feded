"""What the pure rules say a run of events must produce; traffic tagged per
test so shared emulator state never mixes tests."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import urllib.request

from schemas.codec import REGISTRY
from streams.merchants import load_merchants
from streams.publish import prepare, publish
from streams.routing import OrderState, decide
from streams.settings import ROOT
from tests.support import BOOTSTRAP, MOTO_URL, free_port, wait_for

MERCHANTS = load_merchants(ROOT / "deploy" / "merchants.example.json")


def tagged(events, tag: str):
    """Copies of `events` whose order ids and event ids carry `tag`."""
    out = []
    for event_type, data in events:
        data = copy.deepcopy(data)
        env = data["envelope"]
        env["event_id"] = f"{tag}-{env['event_id']}"
        if env.get("order_id"):
            env["order_id"] = f"{tag}{env['order_id']}"
        out.append((event_type, data))
    return out


def expected_requests(events, merchants=MERCHANTS) -> dict[str, dict]:
    states: dict[str, OrderState | None] = {}
    out = {}
    for event_type, data in events:
        order = data["envelope"]["order_id"]
        record = REGISTRY.decode(REGISTRY.encode(event_type, data))
        d = decide(record, states.get(order), None, merchants[data["envelope"]["merchant_id"]],
                   int(time.time() * 1000), event_type=event_type)
        if order:
            states[order] = d.state
        for r in d.requests:
            out[r["notification_id"]] = r
    return out


def publish_events(prefix: str, events) -> None:
    publish((prepare(t, d) for t, d in events), BOOTSTRAP, prefix=prefix)


_cache: dict = {"at": 0.0, "data": None}


def moto_data(max_age: float = 1.0) -> dict:
    """moto's record of what it accepted. It holds every message sent so far,
    so polls within `max_age` seconds share one read."""
    if _cache["data"] is None or time.monotonic() - _cache["at"] > max_age:
        with urllib.request.urlopen(f"{MOTO_URL}/moto-api/data.json", timeout=30) as r:
            _cache["data"] = json.load(r)
        _cache["at"] = time.monotonic()
    return _cache["data"]


def emails_by_notification(nids) -> dict[str, list[dict]]:
    """Emails moto accepted, grouped by the notification id each one carries.
    (Reads all of moto's data: poll it with an interval of a second or more.)"""
    wanted = set(nids)
    out: dict[str, list[dict]] = {}
    for msg in moto_data()["ses"]["Message"]:
        marker = msg.get("body", "").rpartition("ordercast-notification:")[2][:36]
        if marker in wanted:
            out.setdefault(marker, []).append(msg)
    return out


def sms_to(phones) -> list[dict]:
    wanted = set(phones)
    return [m for m in moto_data()["sns"]["SMS"] if m["phone_number"] in wanted]


class FaultProxy:
    """`python -m streams.faultproxy` in front of moto, controlled over HTTP."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.faultproxy", "--listen", f"127.0.0.1:{self.port}",
             "--upstream", MOTO_URL], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for(self._up, 20, message="fault proxy to listen")

    def _up(self) -> bool:
        try:
            self.stats()
            return True
        except OSError:
            return False

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)

    def fault(self, mode: str, fraction: float = 1.0, duration_s: float = 10,
              match: str | None = None) -> dict:
        return self._call("/__fault__", {"mode": mode, "fraction": fraction,
                                         "duration_s": duration_s, "match": match})

    def stats(self) -> dict:
        return self._call("/__fault__/stats")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
