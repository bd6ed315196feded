"""`ordercast publish` input handling, without a broker."""

from __future__ import annotations

import json
import subprocess
import sys

from streams.publish import Prepared, Rejected, parse_lines, prepare
from streams.sample import sample_events
from tests.support import ROOT


def _line(event_type, data):
    return json.dumps({"type": event_type, "data": data}, ensure_ascii=False)


def test_bad_lines_are_reported_with_number_and_reason_and_good_ones_kept():
    good = sample_events(3, seed=1, start_ms=1_700_000_000_000)
    bad_field = json.loads(_line(*good[1]))
    del bad_field["data"]["envelope"]["merchant_id"]
    lines = [
        _line(*good[0]),
        "{not json",
        json.dumps(bad_field),
        "",
        json.dumps({"type": "parcel_lost", "data": {}}),
        json.dumps([1, 2]),
        _line(*good[2]),
    ]
    results = dict(parse_lines(lines))
    assert isinstance(results[1], Prepared) and isinstance(results[7], Prepared)
    assert isinstance(results[2], Rejected) and "not JSON" in results[2].reason
    assert isinstance(results[3], Rejected) and "merchant_id" in results[3].reason
    assert 4 not in results  # blank lines are skipped
    assert isinstance(results[5], Rejected)
    assert "unknown event type 'parcel_lost'" in results[5].reason
    assert isinstance(results[6], Rejected) and '"type"' in results[6].reason


def test_prepare_routes_to_the_type_topic_keyed_by_order():
    event_type, data = next(e for e in sample_events(30, seed=3) if e[0] == "card_key_ready")
    item = prepare(event_type, data)
    assert item.topic == "orders.card-key-ready"
    assert item.key == data["envelope"]["order_id"].encode()


def test_sample_is_seeded():
    a = sample_events(50, seed=9, start_ms=0)
    b = sample_events(50, seed=9, start_ms=0)
    c = sample_events(50, seed=10, start_ms=0)
    assert a == b and a != c
    assert {d["envelope"]["buyer"]["locale"] for _, d in a} == {"zh-CN", "en-US"}
    assert len({d["envelope"]["merchant_id"] for _, d in a}) >= 3


def test_cli_errors_are_one_line(tmp_path):
    run = [sys.executable, "-m", "streams", "publish", str(tmp_path / "missing.jsonl")]
    result = subprocess.run(run, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"ordercast: no such file: {tmp_path / 'missing.jsonl'}"]
    result = subprocess.run([sys.executable, "-m", "streams", "publish", "--sample", "-3"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
