"""`ordercast demo`: run the worker on sample traffic against the local stack and
show what reached the (emulated) providers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from rich.console import Console
from rich.table import Table

from channels.pii import mask_email, mask_phone

from . import settings as cfg
from .exceptions import StackError
from .publish import prepare, publish
from .sample import sample_events
from .stack import kafka_ready, moto_ready, moto_url


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rpartition(" ")[2])
    return total


def run(events: int, timeout: float, console: Console | None = None) -> None:
    console = console or Console()
    if not (kafka_ready(3.0) and moto_ready()):
        raise StackError("the local stack is not up; run `ordercast stack up` first")
    port = cfg.worker().web_port
    # the emulator reports the SES sandbox quota (1/s); a demo wants more
    env = {"ORDERCAST_AWS_SES_MAX_SEND_RATE": "100", **os.environ,
           "ORDERCAST_AWS_ENDPOINT_URL": moto_url()}
    log = cfg.stack().state_dir / "logs" / "demo-worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "streams", "worker"], env=env,
                              stdout=open(log, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _ready(base), 90, f"worker not ready; see {log}")
        before = _get(f"{base}/metrics").decode()
        seed = int(time.time())
        report = publish(prepare(t, d) for t, d in sample_events(events, seed))
        console.print(f"published {report.published} sample events (seed {seed}) "
                      f"to {len(report.by_topic)} lifecycle topics")
        routed = _settle(base, before, timeout)
        _show(console, before, _get(f"{base}/metrics").decode(), routed)
        console.print(f"worker log: {log}; metrics: {base}/metrics; "
                      f"template preview: {base}/templates")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)


def _ready(base: str) -> bool:
    try:
        return json.loads(_get(f"{base}/readyz")).get("ready", False)
    except OSError:
        return False


def _wait(check, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise StackError(message)


def _settle(base: str, before: str, timeout: float) -> float:
    """Wait until every routed notification has a final outcome (or time runs out)."""
    deadline = time.monotonic() + timeout
    routed = 0.0
    while time.monotonic() < deadline:
        now = _get(f"{base}/metrics").decode()
        routed = (_metric(now, "ordercast_notifications_routed_total")
                  - _metric(before, "ordercast_notifications_routed_total"))
        done = (_metric(now, "ordercast_deliveries_total")
                - _metric(before, "ordercast_deliveries_total"))
        if routed and done >= routed:
            break
        time.sleep(1.0)
    return routed


def _show(console: Console, before: str, after: str, routed: float) -> None:
    table = Table(title=f"{routed:.0f} notifications routed")
    for col in ("channel", "delivered", "dead-lettered"):
        table.add_column(col)
    for ch in ("email", "sms", "inapp", "webhook"):
        d = [_metric(after, "ordercast_deliveries_total", channel=ch, status=s)
             - _metric(before, "ordercast_deliveries_total", channel=ch, status=s)
             for s in ("delivered", "dead_lettered")]
        table.add_row(ch, f"{d[0]:.0f}", f"{d[1]:.0f}")
    console.print(table)
    data = json.loads(_get(f"{moto_url()}/moto-api/data.json"))
    mails = Table(title="latest emails accepted by SES (emulated)")
    for col in ("to", "subject"):
        mails.add_column(col)
    for m in data["ses"]["Message"][-5:]:
        mails.add_row(mask_email(m["destinations"]["ToAddresses"][0]), m["subject"])
    console.print(mails)
    texts = Table(title="latest SMS accepted by SNS (emulated)")
    for col in ("to", "message"):
        texts.add_column(col)
    for m in data["sns"]["SMS"][-5:]:
        texts.add_row(mask_phone(m["phone_number"]), m["message"])
    console.print(texts)
