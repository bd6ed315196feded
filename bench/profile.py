"""Sampling profiles of a running worker with py-spy, and a plain-text summary
of the collapsed stacks (inclusive and self time per frame)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, out: Path, seconds: float, gil: bool = True) -> subprocess.Popen | None:
    """Start recording ``pid`` for ``seconds`` into ``out`` (collapsed stacks);
    ``gil`` keeps only samples holding the GIL, i.e. where Python spends CPU."""
    exe = py_spy()
    if exe is None:
        return None
    args = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--rate", "200", "--format", "raw", "--output", str(out),
            "--nonblocking"]  # sample without pausing the worker
    if gil:
        args.append("--gil")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stacks(collapsed: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: each stack's frames, outermost first,
    and its sample count."""
    out = []
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def summarise(collapsed: Path, top: int = 40) -> str:
    """The frames that take the most samples, inclusive and self."""
    samples = stacks(collapsed)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, n in samples:
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return "no samples"
    shares = breakdown(samples)
    lines = [f"{total} samples", "by owner (outermost frame):"]
    lines += [f"  {v:6.1%}  {k}" for k, v in shares["owner"].items()]
    lines.append("by kind of work (innermost frame):")
    lines += [f"  {v:6.1%}  {k}" for k, v in shares["work"].items()]
    lines.append("inclusive:")
    lines += [f"  {c / total:6.1%}  {f}" for f, c in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {c / total:6.1%}  {f}" for f, c in own.most_common(top // 2)]
    return "\n".join(lines)


# Which part of the worker a sample belongs to: the outermost matching frame
# names the agent or service; the innermost matching frame names the kind of work.
OWNERS = (
    ("streams/router.py", "router agents"),
    ("streams/delivery.py", "delivery agents"),
    ("streams/buyers.py", "buyer-frequency agents"),
    ("streams/risk_agent.py", "risk agents"),
    ("streams/inbox", "inbox agent"),
    ("faust/transport/consumer.py", "consumer (fetch, commit)"),
    ("faust/transport/producer.py", "producer buffer (table changelogs)"),
    ("aiokafka/producer", "aiokafka producer"),
    ("aiokafka/consumer", "aiokafka consumer"),
    ("threading.py", "threads (boto3 pool, mode threads)"),
)
WORK = (
    ("schemas/codec.py", "Avro codec"),
    ("babel/", "babel (amount formatting)"),
    ("jinja2/", "Jinja2 render"),
    ("botocore/", "boto3"), ("urllib3/", "boto3"), ("http/client.py", "boto3"),
    ("prometheus_client/", "prometheus metrics"),
    ("streams/routing/", "routing rules"),
    ("faust/tables/", "faust tables"),
    ("aiokafka/", "aiokafka"),
    ("faust/", "faust runtime"), ("mode/", "faust runtime"),
    ("asyncio/", "asyncio"),
)


def _first(frames: list[str], rules: tuple[tuple[str, str], ...]) -> str:
    for frame in frames:
        for needle, name in rules:
            if needle in frame:
                return name
    return "other"


def breakdown(samples: list[tuple[list[str], int]]) -> dict[str, dict[str, float]]:
    """Share of samples by owner (outermost match) and by kind of work (innermost)."""
    owners: Counter[str] = Counter()
    work: Counter[str] = Counter()
    total = 0
    for frames, n in samples:
        total += n
        owners[_first(frames, OWNERS)] += n
        work[_first(frames[::-1], WORK)] += n
    if not total:
        return {"owner": {}, "work": {}}
    return {"owner": {k: v / total for k, v in owners.most_common()},
            "work": {k: v / total for k, v in work.most_common()}}
