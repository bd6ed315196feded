"""`ordercast stack up` twice is harmless; status reports both services."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.stack import services
from tests.support import ROOT

pytestmark = pytest.mark.broker


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_up_twice_changes_nothing(broker, moto):
    before = {name: svc.pid() for name, svc in services().items()}
    result = _cli("stack", "up")
    assert result.returncode == 0, result.stderr
    assert "0 topics created" in result.stdout
    assert {name: svc.pid() for name, svc in services().items()} == before
    status = _cli("stack", "status")
    assert status.returncode == 0
    assert "kafka: up" in status.stdout and "moto: up" in status.stdout
