"""Template preview pages and files."""

from __future__ import annotations

import html
import json
import re

import pytest

from streams.preview import index_html, render_to_files, template_html
from streams.render import Renderer, TemplateProblem, UnknownTemplate

R = Renderer()


def test_index_links_every_template():
    page = index_html(R)
    for name in R.list_templates():
        assert f'href="/templates/{name}"' in page


def test_template_page_shows_every_locale_sandboxed():
    page = template_html(R, "card_key_ready")
    assert page.count('<iframe sandbox=""') == len(R.locales())
    for locale in R.locales():
        assert f"<h2>{locale}</h2>" in page
    assert "1 segment(s)" in page
    # the email is inside the srcdoc attribute, escaped once for it
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert "<" not in srcdoc and html.unescape(srcdoc).lstrip().startswith("<!DOCTYPE html>")


def test_template_page_reports_a_broken_template(tmp_path):
    from streams.merchants import MerchantConfig

    (tmp_path / "en-US").mkdir()
    (tmp_path / "en-US" / "card_key_ready.txt").write_text("{{ missing_thing }}")
    m = MerchantConfig(merchant_id="m-1", name="K", sender_email="a@k.example",
                       template_dir=tmp_path)
    page = template_html(R, "card_key_ready", m)
    assert "class=problem" in page and "missing_thing" in page
    assert "merchant m-1" in page


def test_unknown_template_page():
    with pytest.raises(UnknownTemplate):
        template_html(R, "../../etc/passwd")


def test_render_to_files_from_samples(tmp_path):
    paths = render_to_files(R, "payment_succeeded", "en-US", None, None, tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(
        f"payment_succeeded.en-US.{s}" for s in ("subject.txt", "html", "txt", "sms.txt"))
    assert (tmp_path / "out" / "payment_succeeded.en-US.subject.txt").read_text() == (
        "Order 202405010001 paid\n")


def test_render_to_files_from_data(tmp_path):
    data = tmp_path / "vars.json"
    data.write_text(json.dumps({"merchant_name": "K", "title": "Hi <b>", "body": "There"}))
    paths = render_to_files(R, "system_announcement", "zh-CN", None, data, tmp_path)
    html_file = next(p for p in paths if p.suffix == ".html")
    assert "Hi &lt;b&gt;" in html_file.read_text()
    data.write_text(json.dumps({"merchant_name": "K"}))
    with pytest.raises(TemplateProblem, match="title"):
        render_to_files(R, "system_announcement", "zh-CN", None, data, tmp_path)
