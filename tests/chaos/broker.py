"""A Kafka broker of the test's own, for tests that stop and restart it: the
shared local broker carries other tests' (and other people's) traffic.

Started and stopped through `streams.stack` in subprocesses, because the stack
reads its ports and state directory from settings that are cached per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import ROOT, Worker, free_port


@dataclass
class OwnBroker:
    state_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "ORDERCAST_STACK_STATE_DIR": str(self.state_dir),
                "ORDERCAST_STACK_KAFKA_PORT": str(self.port),
                "ORDERCAST_STACK_CONTROLLER_PORT": str(self.controller_port),
                "ORDERCAST_KAFKA_BOOTSTRAP": self.bootstrap}

    def _stack(self, call: str, timeout: float) -> None:
        subprocess.run([sys.executable, "-c", f"from streams import stack; stack.{call}"],
                       env=self.env, cwd=ROOT, check=True, timeout=timeout,
                       capture_output=True)

    def start(self, timeout: float = 120.0) -> None:
        self._stack("start_kafka()", timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM: Kafka's controlled shutdown (SIGKILL after 30 s)."""
        self._stack("stop('kafka')", timeout)

    def log_tail(self, chars: int = 3000) -> str:
        log = self.state_dir / "logs" / "kafka.out"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


class Supervisor(threading.Thread):
    """Does to a worker what the Kubernetes Deployment in deploy/k8s would:
    restart it when the process exits (restartPolicy Always) or when /livez
    fails three times in a row, ten seconds apart; nothing else. Every restart
    is recorded and raised as a warning: a restart is a finding, not a pass."""

    PERIOD_S, FAILURES = 10.0, 3

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.restarts: list[str] = []
        self._stop_event = threading.Event()

    def _live(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.worker.port}/livez"
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.status == 200
        except OSError:
            return False

    def run(self) -> None:
        failures = 0
        while not self._stop_event.wait(1.0):
            proc = self.worker.proc
            if proc is not None and proc.poll() is not None:
                self._restart(f"worker exited with status {proc.returncode}")
                failures = 0
                continue
            failures = 0 if self._live() else failures + 1
            if failures >= self.FAILURES:
                self.worker.kill()
                self._restart("liveness probe failed three times")
                failures = 0
            if failures:
                self._stop_event.wait(self.PERIOD_S - 1.0)

    def _restart(self, why: str) -> None:
        self.restarts.append(f"{time.strftime('%H:%M:%S')} {why}")
        warnings.warn(f"supervisor restarted the worker: {why}", stacklevel=1)
        self.worker.start()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(120)
