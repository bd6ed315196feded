"""A real Prometheus server scrapes a worker through a traffic run: what it
stores per channel is what the run delivered and dead-lettered, the target is
up, the repository's alert rules load and evaluate, and consumer lag drains to 0.

The Prometheus binary comes from the Debian `prometheus` package that
`deploy/tools/install.sh` installs (next to promtool). Under CI=true a missing
binary fails the test; locally it skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from streams.catalog import LIFECYCLE, PARTITIONS
from streams.merchants import load_merchants
from streams.routing import fallback_request
from streams.sample import sample_events
from tests.integration.expect import (
    emails_by_notification,
    expected_requests,
    publish_events,
    tagged,
)
from tests.support import ROOT, free_port, wait_for

pytestmark = pytest.mark.broker

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULE_GROUPS = {"ordercast.delivery", "ordercast.kafka", "ordercast.risk", "ordercast.workers"}
REJECTED = "m-1003"  # this merchant's sender identity is never verified in moto
STATUSES = ("delivered", "dead_lettered")
# One order's events arrive on separate topics in any order, and a refund or cancel
# seen first rightly drops a later notification; traffic without them has one outcome.
ORDER_FREE = frozenset({"order_created", "payment_succeeded", "card_key_ready",
                        "account_security", "system_announcement", "marketing"})
T = TypeVar("T")


def prometheus_binary() -> str:
    """`PROMETHEUS` from deploy-tools' tools.env, else the server next to its
    promtool (same Debian package), else `prometheus` on PATH."""
    cache = os.environ.get("ORDERCAST_CACHE_DIR") or str(Path.home() / ".cache" / "ordercast")
    env_file = Path(cache) / "deploy-tools" / "tools.env"
    values: dict[str, str] = {}
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    candidates = [values.get("PROMETHEUS"),
                  values.get("PROMTOOL") and str(Path(values["PROMTOOL"]).with_name("prometheus")),
                  shutil.which("prometheus")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    message = "the prometheus server is not installed; run `bash deploy/tools/install.sh`"
    if IN_CI:
        pytest.fail(message + " (CI=true: the end-to-end check must run, not skip)")
    pytest.skip(message)


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen
    log: Path

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[tuple[str, ...], float]:
        """Instant vector result as {label values in label-name order: value}
        (the metric name left out)."""
        return {tuple(v for k, v in sorted(s["metric"].items()) if k != "__name__"):
                float(s["value"][1]) for s in self.api("query", query=expr)["result"]}

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n"
                                 + self.log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator:
    """Start Prometheus scraping a worker port every second; stopped at teardown."""
    binary = prometheus_binary()
    servers: list[Prometheus] = []

    def start(target_port: int) -> Prometheus:
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": "ordercast", "scrape_interval": "1s", "scrape_timeout": "1s",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
            }],
        }))
        port = free_port()
        log = tmp_path / "prometheus.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
        servers.append(server)
        wait_for(server.ready, 30, 0.2, "prometheus to be ready")
        return server

    yield start
    for server in servers:
        server.proc.terminate()
        try:
            server.proc.wait(20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)


def merchants_file(path: Path, tag: str) -> Path:
    """The example merchants, with REJECTED sending from a domain nobody verified."""
    raw = json.loads((ROOT / "deploy" / "merchants.example.json").read_text(encoding="utf-8"))
    for entry in raw["merchants"]:
        if entry["merchant_id"] == REJECTED:
            entry["sender_email"] = f"noreply@unverified-{tag}.example"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def outcomes(requests: dict[str, dict]) -> tuple[dict[str, Counter], set[str], set[str]]:
    """Final outcomes per channel: REJECTED's emails dead-letter (urgent ones fall
    back once to their first fallback route, deduplicated by notification id);
    everything else is delivered. Also returns the delivered and rejected email ids."""
    delivered: dict[str, set[str]] = {}
    rejected: set[str] = set()
    for nid, r in requests.items():
        if r["channel"] == "email" and r["merchant_id"] == REJECTED:
            rejected.add(nid)
            if r["priority"] == "urgent" and r["fallback"]:
                fb = fallback_request(r, r["fallback"][0])
                delivered.setdefault(fb["channel"], set()).add(fb["notification_id"])
        else:
            delivered.setdefault(r["channel"], set()).add(nid)
    counts = {ch: Counter({"delivered": len(ids)}) for ch, ids in delivered.items()}
    counts.setdefault("email", Counter())["dead_lettered"] = len(rejected)
    return counts, delivered.get("email", set()), rejected


def worker_outcomes(worker, channels) -> dict[str, Counter]:
    return {ch: Counter({s: int(worker.metric("ordercast_deliveries_total", channel=ch, status=s))
                         for s in STATUSES}) for ch in channels}


def until_equal(get: Callable[[], T], want: T, timeout: float) -> None:
    """Poll `get` until it returns `want`; on timeout, assert on its last value."""
    last: list[T] = []
    with contextlib.suppress(AssertionError):
        wait_for(lambda: last.append(get()) or last[-1] == want, timeout, 0.5)
    assert last[-1] == want


def test_prometheus_scrapes_a_traffic_run(prometheus, prefix, worker_factory, tmp_path):
    tag = uuid.uuid4().hex[:6]
    merchants = merchants_file(tmp_path / "merchants.json", tag)
    events = [(t, d) for t, d in tagged(sample_events(150, seed=11), tag) if t in ORDER_FREE]
    requests = expected_requests(events, load_merchants(merchants))
    assert not [r for r in requests.values() if r["not_before"]], "the run must not defer sends"
    expected, delivered_emails, rejected_emails = outcomes(requests)
    assert expected["email"]["delivered"] and expected["email"]["dead_lettered"]
    assert expected["sms"]["delivered"] and expected["inapp"]["delivered"]

    worker = worker_factory(start=False, ORDERCAST_MERCHANTS_FILE=str(merchants))
    prom = prometheus(worker.port)
    worker.start()
    publish_events(prefix, events)

    until_equal(lambda: worker_outcomes(worker, expected), expected, 90)
    got = emails_by_notification(delivered_emails | rejected_emails)
    # what moto accepted is what the worker counted, each once
    assert set(got) == delivered_emails and all(len(c) == 1 for c in got.values())

    def stored() -> dict[str, Counter]:
        out = {ch: Counter({s: 0 for s in STATUSES}) for ch in expected}
        for (channel, status), value in prom.query(
                'sum by (channel, status) (ordercast_deliveries_total{job="ordercast"})').items():
            if channel not in out and not value:
                continue  # series the worker creates at start-up, with no traffic yet
            out.setdefault(channel, Counter())[status] = int(value)
        return out

    want = {ch: Counter({s: c[s] for s in STATUSES}) for ch, c in expected.items()}
    until_equal(stored, want, 30)

    ratio = prom.query(
        'sum by (channel) (ordercast_deliveries_total{job="ordercast",status="delivered"})'
        ' / sum by (channel) (ordercast_deliveries_total{job="ordercast",'
        'status=~"delivered|dead_lettered"})')
    ratio = {k: v for k, v in ratio.items() if v == v}  # 0/0 (NaN): a channel with no traffic
    assert set(ratio) == {(ch,) for ch in expected}
    for ch, c in expected.items():
        assert ratio[(ch,)] == pytest.approx(c["delivered"] / (c["delivered"] + c["dead_lettered"]))
    assert ratio[("email",)] < 1 and ratio[("sms",)] == 1
    dead = prom.query(
        'sum by (channel, error_class) (ordercast_dead_letters_total{job="ordercast"})')
    assert dead == {("email", "RejectedSender"): expected["email"]["dead_lettered"]}

    assert prom.query('up{job="ordercast"}') == {(f"127.0.0.1:{worker.port}", "ordercast"): 1.0}

    def rules_evaluated() -> list[dict]:
        groups = prom.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        names = {g["name"] for g in groups}
        return (names == RULE_GROUPS and all(r["health"] == "ok" for r in rules)
                and rules)

    rules = wait_for(rules_evaluated, 20, 0.5, f"rule groups {sorted(RULE_GROUPS)} to evaluate")
    assert {r["name"] for r in rules} >= {"OrdercastDeliverySuccessRatioLow",
                                          "OrdercastConsumerLagGrowing", "OrdercastWorkerDown"}

    partitions = int(worker.env.get("ORDERCAST_KAFKA_PARTITIONS", PARTITIONS))
    lifecycle = {(spec.name, str(p)) for spec in LIFECYCLE for p in range(partitions)}

    def lifecycle_lag() -> dict[tuple[str, ...], float]:
        lag = prom.query('ordercast_consumer_lag{job="ordercast"}')
        # label order: group, instance, job, partition, topic
        return {(topic, partition): v for (_, _, _, partition, topic), v in lag.items()
                if (topic, partition) in lifecycle}

    until_equal(lifecycle_lag, dict.fromkeys(lifecycle, 0.0), 45)
