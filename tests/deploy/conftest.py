"""Fixtures for the checks on deploy/: where the offline validators live.

`deploy/tools/install.sh` installs them and writes their paths to
~/.cache/ordercast/deploy-tools/tools.env.  A missing tool fails the test under
CI=true and skips it locally, with a message saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
INSTALL_HINT = "run `bash deploy/tools/install.sh`"

# The metric names streams/metrics.py exports (histograms add _bucket/_sum/_count).
METRICS = frozenset({
    "ordercast_events_consumed_total",
    "ordercast_notifications_routed_total",
    "ordercast_deliveries_total",
    "ordercast_delivery_attempts_total",
    "ordercast_delivery_latency_seconds_bucket",
    "ordercast_delivery_latency_seconds_sum",
    "ordercast_delivery_latency_seconds_count",
    "ordercast_retries_total",
    "ordercast_dead_letters_total",
    "ordercast_fallbacks_total",
    "ordercast_rate_limiter_waits_total",
    "ordercast_rate_limiter_wait_seconds_total",
    "ordercast_dedup_hits_total",
    "ordercast_ambiguous_resends_total",
    "ordercast_risk_alerts_total",
    "ordercast_consumer_lag",
    "ordercast_consumer_stalls_total",
    "ordercast_sends_in_progress",
    "ordercast_build_info",
})


def missing(what: str) -> NoReturn:
    message = f"{what} is not available; {INSTALL_HINT}"
    if IN_CI:
        pytest.fail(message + " (CI=true: deploy checks must run, not skip)")
    pytest.skip(message)


def tools_env_path() -> Path:
    cache = os.environ.get("ORDERCAST_CACHE_DIR") or str(Path.home() / ".cache" / "ordercast")
    return Path(cache) / "deploy-tools" / "tools.env"


@dataclass(frozen=True)
class Tools:
    values: dict[str, str]

    def executable(self, key: str, fallback: str | None = None) -> str:
        path = self.values.get(key) or (fallback and shutil.which(fallback))
        if not path or not os.access(path, os.X_OK):
            missing(f"{key.lower()} ({path or 'not configured'})")
        return path

    def setting(self, key: str) -> str:
        if not self.values.get(key):
            missing(f"{key} in {tools_env_path()}")
        return self.values[key]


@pytest.fixture(scope="session")
def tools() -> Tools:
    path = tools_env_path()
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip():
                values[key.strip()] = value.strip()
    return Tools(values)


@pytest.fixture(scope="session")
def promtool(tools: Tools) -> str:
    return tools.executable("PROMTOOL", fallback="promtool")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
