"""Start a real ``moto_server`` on a free loopback port for the test session."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/data.json", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_moto_server(deadline_s: float = 30.0) -> Iterator[str]:
    """Yields the server's base URL; the server is terminated on exit."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) \
        or shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server not found: pip install 'moto[server]'")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            until = time.monotonic() + deadline_s
            while not _answers(url):
                if proc.poll() is not None or time.monotonic() > until:
                    log.seek(0)
                    tail = log.read()[-2000:].decode(errors="replace")
                    raise RuntimeError(f"moto_server did not start on {url}:\n{tail}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def moto_data(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/moto-api/data.json", timeout=5) as response:
        return json.load(response)  # type: ignore[no-any-return]


def moto_reset(url: str) -> None:
    request = urllib.request.Request(url + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass
