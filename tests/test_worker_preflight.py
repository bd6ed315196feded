"""The worker refuses to start on a broken template (no broker needed: the
check runs before Faust starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT


def test_worker_refuses_to_start_on_a_broken_merchant_template(tmp_path):
    override = tmp_path / "tpl" / "en-US"
    override.mkdir(parents=True)
    (override / "payment_succeeded.subject.txt").write_text("Order {{ order_no ")  # unclosed
    merchants = {"merchants": [{"merchant_id": "m-9", "name": "Nine",
                                "sender_email": "noreply@nine.example",
                                "template_dir": str(tmp_path / "tpl")}]}
    path = tmp_path / "merchants.json"
    path.write_text(json.dumps(merchants))
    env = {**os.environ, "ORDERCAST_MERCHANTS_FILE": str(path),
           "ORDERCAST_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run([sys.executable, "-m", "streams", "worker"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "templates are broken, not starting" in result.stderr
    assert "payment_succeeded.subject.txt" in result.stderr
    assert "Traceback" not in result.stderr
