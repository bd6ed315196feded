"""Benchmarks on the real local broker with a fast fake SES/SNS endpoint.

    python -m bench [--quick]             throughput of ordercast vs naive peers, latency
    python -m bench delivery [--quick]    one worker's delivery rate vs the boto3 ceiling,
                                          and the SES rate limit honoured
    python -m bench risk [--quick]        the risk agent vs a naive Faust agent; alert latency
    python -m bench experiment --patches codec,babel,locales
                                          one worker as it is vs with bench.patched
                                          speed-ups, alternating, same events

Prints a table, then as its last line one JSON object with every figure.
``python -m bench.risk_data`` is the risk engine's own (separate) benchmark.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import contenders, delivery, kafka, report
from .context import FULL, QUICK, Bench, Budget
from .events import order_events
from .fakeprovider import FakeProvider
from .procs import BenchError, Children, free_port, sigterm_as_interrupt


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("suite", nargs="?", choices=("throughput", "delivery", "experiment"),
                   default="throughput")
    p.add_argument("--quick", action="store_true", help="short form (about 2 minutes)")
    p.add_argument("-n", "--events", type=int, help="events per contender")
    p.add_argument("--concurrency", type=int, help="ORDERCAST_AWS_CONCURRENCY for the workers")
    p.add_argument("--provider-latency-ms", type=float, default=1.0)
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="afterwards, py-spy one extra (untimed) one-worker run into DIR")
    p.add_argument("--patches", default="codec,babel,locales",
                   help="experiment: bench.patched patches, comma-separated")
    p.add_argument("--rounds", type=int, default=2, help="experiment: alternations")
    p.add_argument("--latency-rate", type=float, default=50.0,
                   help="experiment: events/s of the paced latency run after each")
    p.add_argument("--keep", action="store_true", help="keep the run's topics and logs")
    return p.parse_args(argv)


def _budget(a: argparse.Namespace) -> Budget:
    b = QUICK if a.quick else FULL
    if a.events:
        b = replace(b, n=a.events)
    if a.concurrency:
        b = replace(b, concurrency=a.concurrency)
    return b


def _say(text: str) -> None:
    print(f"· {text}", file=sys.stderr, flush=True)


def throughput(b: Bench, a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    events = order_events(b.budget.n)
    _say(f"raw ceiling ({b.budget.n} events, repeated)")
    raw = contenders.raw_ceiling(b, events, volume=100_000 if a.quick else 300_000)
    _say("naive peer")
    peer = contenders.naive_peer(b, events)
    _say("naive Faust agent")
    faust = contenders.naive_faust(b, events)
    _say("ordercast, 1 worker, then paced latency")
    one, lat = contenders.ordercast(b, events, 1, latency=True)
    _say("ordercast, 2 workers")
    two, _ = contenders.ordercast(b, events, 2)
    if a.profile:
        _say(f"profiling one worker (untimed) into {a.profile}")
        contenders.ordercast(b, events, 1, profile_dir=a.profile, tag="prof")
    assert lat is not None
    results = [raw, peer, faust, one, two]
    rows = [[r.name, report.num(r.rate.per_s), report.num(r.rate.count),
             report.num(r.rate.seconds, 1), report.num(r.cpu_ms_per_event, 2), r.note]
            for r in results]
    half = lat.rate
    goals = [
        report.at_least("ordercast 1w / naive Faust", report.ratio(one.rate.per_s,
                                                                   faust.rate.per_s), 2),
        report.at_least("ordercast 1w / naive peer", report.ratio(one.rate.per_s,
                                                                  peer.rate.per_s), 10),
        report.at_least("ordercast 2w / 1w", report.ratio(two.rate.per_s, one.rate.per_s), 1.6),
        report.at_most(f"p99 ms at {half:,.0f}/s (half max)", lat.total.p99_ms, 50),
    ]
    text = "\n\n".join([
        report.table(["contender", "events/s", "events", "seconds", "CPU ms/event", "note"],
                     rows),
        report.table(["latency, ordercast 1 worker", "rate/s", "events", "missing", "p50 ms",
                      "p99 ms", "max ms"],
                     [[label, report.num(half), report.num(x.count), report.num(x.missing),
                       report.num(x.p50_ms, 1), report.num(x.p99_ms, 1),
                       report.num(x.max_ms, 1)]
                      for label, x in (("publish -> provider call", lat.total),
                                       ("  publish -> email request (route)", lat.route),
                                       ("  email request -> provider (deliver)",
                                        lat.deliver))]),
        report.goals_table(goals),
    ])
    figures = {
        "raw_ceiling_per_s": raw.rate.per_s, "naive_peer_per_s": peer.rate.per_s,
        "naive_faust_per_s": faust.rate.per_s, "ordercast_1w_per_s": one.rate.per_s,
        "ordercast_2w_per_s": two.rate.per_s, "p50_ms": lat.total.p50_ms,
        "p99_ms": lat.total.p99_ms, "max_ms": lat.total.max_ms, "latency_rate_per_s": half,
        "latency_events": lat.total.count, "latency_missing": lat.total.missing,
        "latency_hops_ms": {hop: {"p50": x.p50_ms, "p99": x.p99_ms, "max": x.max_ms}
                            for hop, x in (("route", lat.route), ("deliver", lat.deliver))},
        "timed_events": {k: r.rate.count for k, r in
                         zip(("raw", "peer", "faust", "ordercast_1w", "ordercast_2w"), results,
                             strict=True)},
        "cpu_ms_per_event": {k: r.cpu_ms_per_event for k, r in
                             zip(("peer", "faust", "ordercast_1w", "ordercast_2w"), results[1:],
                                 strict=True)},
        "goals": {g.name: {"value": g.value, "target": g.target, "met": g.met} for g in goals},
    }
    return text, figures


def delivery_suite(b: Bench, a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    _say(f"boto3 ceiling, then one worker ({b.budget.n} email requests), then rate-limited")
    out = delivery.run(b, b.budget.n, limited_seconds=6.0 if a.quick else 15.0,
                       profile_dir=a.profile)
    runs = out.pop("runs")
    rows = [[r.name, report.num(r.rate.per_s), report.num(r.rate.count),
             report.num(r.rate.seconds, 1), report.num(r.cpu_ms_per_event, 2), r.note]
            for r in runs]
    share = report.ratio(out["delivery_per_s"], out["boto3_ceiling_per_s"])
    lean_share = report.ratio(out["lean_pipeline_per_s"], out["boto3_ceiling_per_s"])
    error = abs(out["rate_limited_per_s"] / out["rate_limit_per_s"] - 1)
    goals = [report.at_least("delivery / boto3 ceiling", share, 0.8),
             report.at_most("rate-limited error vs limit", error, 0.05)]
    text = "\n\n".join([
        report.table(["run", "sends/s", "sends", "seconds", "CPU ms/send", "note"], rows),
        f"lean pipeline / boto3 ceiling: {lean_share:.2f} (the same per-send work without faust)",
        report.goals_table(goals),
    ])
    out.update({"delivery_vs_ceiling": share, "lean_vs_ceiling": lean_share,
                "rate_limit_error": error,
                "goals": {g.name: {"value": g.value, "target": g.target, "met": g.met}
                          for g in goals}})
    return text, out


def experiment(b: Bench, a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Baseline and patched one-worker runs, alternating so that a change in
    the machine's load hits both alike."""
    patches = tuple(p for p in a.patches.split(",") if p)
    events = order_events(b.budget.n)
    runs: dict[str, list[tuple[contenders.Result, contenders.Latencies]]] = {
        "baseline": [], "patched": []}
    for i in range(a.rounds):
        for kind, p in (("baseline", ()), ("patched", patches)):
            _say(f"round {i + 1}/{a.rounds}: {kind}")
            result, lat = contenders.ordercast(b, events, 1, patches=p, tag=f"x{kind[0]}{i}",
                                               latency=True, latency_rate=a.latency_rate)
            assert lat is not None
            runs[kind].append((result, lat))
    rows = [[r.name, report.num(r.rate.per_s), report.num(r.rate.count),
             report.num(r.rate.seconds, 1), report.num(r.cpu_ms_per_event, 2),
             report.num(lat.total.p50_ms, 1), report.num(lat.total.p99_ms, 1)]
            for pair in zip(runs["baseline"], runs["patched"], strict=True) for r, lat in pair]

    def mean(kind: str, pick) -> float:
        values = [pick(r, lat) for r, lat in runs[kind]]
        return sum(values) / len(values)

    figures = {"patches": list(patches), "rounds": a.rounds, "latency_rate_per_s": a.latency_rate}
    for kind in runs:
        figures[f"{kind}_per_s"] = mean(kind, lambda r, _: r.rate.per_s)
        figures[f"{kind}_cpu_ms_per_event"] = mean(kind, lambda r, _: r.cpu_ms_per_event)
        figures[f"{kind}_p50_ms"] = mean(kind, lambda _, lat: lat.total.p50_ms)
        figures[f"{kind}_p99_ms"] = mean(kind, lambda _, lat: lat.total.p99_ms)
    figures["speedup"] = report.ratio(figures["patched_per_s"], figures["baseline_per_s"])
    figures["cpu_saving"] = 1 - report.ratio(figures["patched_cpu_ms_per_event"],
                                             figures["baseline_cpu_ms_per_event"])
    text = report.table(["run", "events/s", "events", "seconds", "CPU ms/event",
                         f"p50 ms @{a.latency_rate:g}/s", f"p99 ms @{a.latency_rate:g}/s"], rows)
    return text, figures


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["risk"]:  # the risk agent's own suite
        from .risk import main as risk_main

        return risk_main(argv[1:])
    a = _args(argv)
    from streams.settings import kafka as kafka_settings
    from streams.stack import kafka_ready

    if not kafka_ready(5.0):
        print(f"bench: Kafka is not reachable at {kafka_settings().bootstrap}; "
              "start the local stack with `make up`", file=sys.stderr)
        return 2
    budget = _budget(a)
    scratch = Path(tempfile.mkdtemp(prefix="ordercast-bench-"))
    info, started = report.machine(), time.monotonic()
    ok = False
    with sigterm_as_interrupt():
        provider = FakeProvider(free_port(), a.provider_latency_ms, log=scratch / "provider.log")
        children = Children(scratch)
        b = Bench(provider, children, scratch, budget, keep=a.keep)
        try:
            provider.start()
            suite = {"delivery": delivery_suite, "experiment": experiment}.get(a.suite,
                                                                               throughput)
            text, figures = suite(b, a)
            ok = True
        except BenchError as exc:
            print(f"bench: {exc}\nlogs: {scratch}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"bench: interrupted; logs: {scratch}", file=sys.stderr)
            return 130
        finally:
            children.stop_all()
            provider.stop()
            if not a.keep:
                try:  # whatever a failed or interrupted contender left behind
                    kafka.delete_topics_under(b.run_prefix)
                except Exception as exc:  # the figures matter more than the tidy-up
                    print(f"bench: could not delete topics {b.run_prefix}*: {exc}",
                          file=sys.stderr)
                if ok:
                    shutil.rmtree(scratch, ignore_errors=True)
    figures = {
        "suite": a.suite, "quick": a.quick, "n_events": budget.n,
        "concurrency": budget.concurrency, "provider_latency_ms": a.provider_latency_ms,
        **figures, "seconds": round(time.monotonic() - started, 1),
        "machine": report.finish_machine(info), "date": report.now_utc(),
    }
    print(text)
    print()
    print(json.dumps(_plain(figures), allow_nan=False))
    return 0


def _plain(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
