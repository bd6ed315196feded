"""`ordercast templates list|render` (the sub-app, run on its own)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from channels.segments import sms_segments
from streams.cli_templates import templates_cli
from streams.render import Renderer

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(templates_cli, list(args))


def test_list_names_every_template_with_its_locales():
    result = invoke("list")
    assert result.exit_code == 0
    rows = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()}
    r = Renderer()
    assert sorted(rows) == r.list_templates()
    assert rows["card_key_ready"] == ", ".join(r.locales())


def test_render_writes_every_part_and_prints_subject_and_sms(tmp_path):
    result = invoke("render", "payment_succeeded", "--locale", "zh-CN", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"payment_succeeded.zh-CN.{s}" for s in
                     ("html", "sms.txt", "subject.txt", "txt")]
    for name in files:
        assert str(tmp_path / name) in result.stdout
    subject = (tmp_path / "payment_succeeded.zh-CN.subject.txt").read_text().strip()
    sms = (tmp_path / "payment_succeeded.zh-CN.sms.txt").read_text().strip()
    assert f"subject: {subject}" in result.stdout
    assert f"sms ({len(sms)} chars, {sms_segments(sms)} segment(s)): {sms}" in result.stdout


def test_render_falls_back_within_the_language_and_uses_data(tmp_path):
    data = tmp_path / "vars.json"
    data.write_text(json.dumps({**{k: "X" for k in (
        "merchant_name", "order_no", "amount", "occurred_at", "product_name",
        "payment_method")}, "order_no": "ORD-4242"}))
    result = invoke("render", "payment_succeeded", "--locale", "en-GB", "--data", str(data),
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "ORD-4242" in (tmp_path / "out" / "payment_succeeded.en-US.subject.txt").read_text()


def test_render_with_a_merchant(tmp_path):
    result = invoke("render", "marketing", "--locale", "en-US", "--merchant", "m-1001",
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("marketing.en-US.*"))) == 4


@pytest.mark.parametrize("args, message", [
    (["nope", "--locale", "en-US"], "no template 'nope'"),
    (["marketing", "--locale", "fr-FR"], "no templates for locale 'fr-FR'"),
    (["marketing", "--locale", "en-US", "--merchant", "m-none"], "no merchant 'm-none'"),
    (["marketing", "--locale", "en-US", "--data", "{missing}"], "no such file"),
    (["marketing", "--locale", "en-US", "--data", "{broken}"], "not valid JSON"),
    (["marketing", "--locale", "en-US", "--data", "{list}"], "expected a JSON object"),
    (["marketing", "--locale", "en-US", "--data", "{partial}"], "'title' is undefined"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, args, message):
    files = {"missing": tmp_path / "missing.json", "broken": tmp_path / "broken.json",
             "list": tmp_path / "list.json", "partial": tmp_path / "partial.json"}
    files["broken"].write_text('{"a": ')
    files["list"].write_text("[1, 2]")
    files["partial"].write_text('{"merchant_name": "Shop"}')
    args = [a.format(**files) for a in args] + ["--out", str(tmp_path / "out")]
    result = invoke("render", *args)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ordercast: ") and message in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
