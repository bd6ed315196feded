"""The local stack: an Apache Kafka broker (KRaft, one node) built from Maven
Central artifacts, and moto's server mode standing in for SES and SNS.

Everything listens on 127.0.0.1.  State lives under `.var/` (data, logs, pid
files); the Kafka jars are cached under ~/.cache/ordercast/ across clones.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import settings as cfg
from .exceptions import StackError

DEPLOY = cfg.ROOT / "deploy" / "kafka"


@dataclass(frozen=True)
class Service:
    name: str
    pidfile: Path
    logfile: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid


def _paths() -> tuple[Path, Path]:
    st = cfg.stack()
    logs = st.state_dir / "logs"
    run = st.state_dir / "run"
    logs.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    return logs, run


def services() -> dict[str, Service]:
    logs, run = _paths()
    return {name: Service(name, run / f"{name}.pid", logs / f"{name}.out")
            for name in ("kafka", "moto")}


# --- Kafka -------------------------------------------------------------------

def kafka_libs() -> Path:
    """Fetch the broker's jars with Maven once per version; cached."""
    st = cfg.stack()
    libs = st.cache_dir / f"kafka-{st.kafka_version}" / "libs"
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed to fetch Kafka from Maven Central")
    profile = "kafka4" if int(st.kafka_version.split(".")[0]) >= 4 else "kafka3"
    libs.mkdir(parents=True, exist_ok=True)
    cmd = ["mvn", "-q", "-B", "-f", str(DEPLOY / "pom.xml"), f"-P{profile}",
           f"-Dkafka.version={st.kafka_version}", "dependency:copy-dependencies",
           f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"fetching Kafka {st.kafka_version} failed:\n{result.stdout[-2000:]}")
    (libs / ".complete").touch()
    return libs


def _java(libs: Path, logs: Path, *args: str) -> list[str]:
    st = cfg.stack()
    if int(st.kafka_version.split(".")[0]) >= 4:
        logging = f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.properties'}"
    else:
        logging = f"-Dlog4j.configuration=file:{DEPLOY / 'log4j.properties'}"
    return ["java", f"-Xmx{st.kafka_heap}", f"-Xms{st.kafka_heap}", "-XX:+UseG1GC",
            "-Djava.awt.headless=true", f"-Dkafka.logs.dir={logs}", logging,
            "-cp", f"{libs}/*", *args]


def _server_properties() -> Path:
    st = cfg.stack()
    data = st.state_dir / "kafka" / f"data-{st.kafka_version}"
    text = (DEPLOY / "server.properties").read_text().format(
        port=st.kafka_port, controller_port=st.controller_port, data_dir=data)
    path = st.state_dir / "kafka" / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def start_kafka(timeout: float = 90.0) -> None:
    svc = services()["kafka"]
    if svc.pid() and kafka_ready(5.0):
        return
    if svc.pid() is None and kafka_ready(2.0):
        raise StackError(f"another broker already answers at {cfg.kafka().bootstrap}; "
                         "stop it or set ORDERCAST_STACK_KAFKA_PORT and ORDERCAST_KAFKA_BOOTSTRAP")
    libs = kafka_libs()
    logs, _ = _paths()
    props = _server_properties()
    data = cfg.stack().state_dir / "kafka" / f"data-{cfg.stack().kafka_version}"
    if not (data / "meta.properties").exists():
        fmt = _java(libs, logs, "kafka.tools.StorageTool", "format",
                    "-t", str(uuid.uuid4()).replace("-", "")[:22], "-c", str(props))
        result = subprocess.run(fmt, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")
    _spawn(svc, _java(libs, logs, "kafka.Kafka", str(props)))
    _wait(svc, lambda: kafka_ready(2.0), timeout)


def kafka_ready(timeout: float = 2.0) -> bool:
    """Ready = the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": cfg.kafka().bootstrap,
                         "socket.connection.setup.timeout.ms": 1000, "log_level": 0,
                         "logger": _quiet_logger()})
    try:
        md = admin.list_topics(timeout=timeout)
    except Exception:
        return False
    return bool(md.brokers)


def _quiet_logger():  # librdkafka logs every refused connection otherwise
    import logging

    log = logging.getLogger("ordercast.stack.kafka-probe")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


# --- moto --------------------------------------------------------------------

def moto_url() -> str:
    return f"http://127.0.0.1:{cfg.stack().moto_port}"


def moto_ready() -> bool:
    try:  # "/" is tiny; data.json grows with every message sent
        with urllib.request.urlopen(f"{moto_url()}/", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def start_moto(timeout: float = 30.0) -> None:
    svc = services()["moto"]
    if svc.pid() is None and moto_ready():
        raise StackError(f"something else already answers at {moto_url()}; "
                         "stop it or set ORDERCAST_STACK_MOTO_PORT")
    if not (svc.pid() and moto_ready()):
        exe = Path(sys.executable).with_name("moto_server")
        _spawn(svc, [str(exe), "-H", "127.0.0.1", "-p", str(cfg.stack().moto_port)])
        _wait(svc, moto_ready, timeout)


# --- process handling ----------------------------------------------------------

def _spawn(svc: Service, cmd: list[str]) -> None:
    out = open(svc.logfile, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    svc.pidfile.write_text(str(proc.pid))


def _wait(svc: Service, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.pid() is None:
            raise StackError(f"{svc.name} exited during start-up; see {svc.logfile}")
        if ready():
            return
        time.sleep(0.3)
    raise StackError(f"{svc.name} not ready after {timeout:.0f}s; see {svc.logfile}")


def stop(name: str, timeout: float = 30.0) -> bool:
    """SIGTERM (Kafka shuts down cleanly), then SIGKILL; True if it was running."""
    svc = services()[name]
    pid = svc.pid()
    if pid is None:
        svc.pidfile.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and svc.pid() is not None:
        _reap(pid)
        time.sleep(0.2)
    if svc.pid() is not None:
        os.killpg(pid, signal.SIGKILL)
        while svc.pid() is not None:
            _reap(pid)
            time.sleep(0.1)
    svc.pidfile.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status() -> dict[str, str]:
    out = {}
    for name, svc in services().items():
        pid = svc.pid()
        ready = (kafka_ready if name == "kafka" else moto_ready)() if pid else False
        out[name] = f"up (pid {pid})" if ready else ("starting/unhealthy" if pid else "down")
    return out
