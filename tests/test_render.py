"""Templates: escaping, one-line subjects, strict variables, one SMS segment, overrides."""

from __future__ import annotations

import pytest

from channels.segments import sms_segments
from streams.merchants import MerchantConfig
from streams.render import (
    PARTS_BY_CHANNEL,
    Renderer,
    TemplateProblem,
    UnknownTemplate,
    one_line,
    sample_variables,
)
from streams.routing.rules import all_templates

R = Renderer()
LOCALES = ["zh-CN", "en-US"]


def merchant(**over) -> MerchantConfig:
    return MerchantConfig(**{"merchant_id": "m-1", "name": "Keyforge",
                             "sender_email": "noreply@shop-1.example", **over})


def test_every_routed_template_ships_in_every_locale():
    assert set(all_templates()) <= set(R.list_templates())
    assert set(LOCALES) <= set(R.locales())
    R.check_all()


def test_html_escapes_a_hostile_product_name():
    v = {**sample_variables("card_key_ready"), "product_name": '<script>alert(1)</script>"'}
    out = R.render("card_key_ready", "en-US", None, v)
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in out.html
    assert "<script>alert(1)</script>" in out.text  # plain text stays plain


def test_subject_with_newlines_renders_on_one_line():
    v = {**sample_variables("system_announcement"),
         "title": "Hello\r\nBcc: victim@example.com\u2028X\x00"}
    out = R.render("system_announcement", "en-US", None, v)
    assert out.subject == "Hello Bcc: victim@example.com X"
    assert "\n" not in out.sms and "\r" not in out.sms


@pytest.mark.parametrize("text, line", [("a\n b\t\tc ", "a b c"), ("x\x07y", "xy"), ("", "")])
def test_one_line(text, line):
    assert one_line(text) == line


def test_missing_variable_raises():
    v = sample_variables("card_key_ready")
    del v["card_key_url"]
    with pytest.raises(TemplateProblem, match="card_key_url"):
        R.render("card_key_ready", "zh-CN", None, v)


def test_channels_render_only_their_parts():
    v = sample_variables("card_key_ready")
    del v["card_key_url"]  # SMS never carries the link
    out = R.render("card_key_ready", "zh-CN", None, v, parts=PARTS_BY_CHANNEL["sms"])
    assert out.sms and not out.html and not out.subject


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", sorted(R.list_templates()))
def test_every_sms_fits_one_segment(template, locale):
    sms = R.render(template, locale, None, sample_variables(template, locale)).sms
    assert sms_segments(sms) == 1, sms
    assert "{{" not in sms and sms.strip() == sms


@pytest.mark.parametrize("locale", LOCALES)
def test_order_sms_carry_the_order_number(locale):
    for template in R.list_templates():
        v = sample_variables(template, locale)
        sms = R.render(template, locale, None, v).sms
        if "{{ order_no }}" in (R.dirs[0] / locale / f"{template}.sms.txt").read_text():
            assert v["order_no"] in sms


@pytest.mark.parametrize("locale, line", [("zh-CN", "回复TD退订"),
                                          ("en-US", "Reply STOP to unsubscribe")])
def test_marketing_sms_carries_the_unsubscribe_line(locale, line):
    assert R.render("marketing", locale, None, sample_variables("marketing", locale)).sms \
        .endswith(line)


def test_an_override_cannot_drop_the_unsubscribe_line(tmp_path):
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "marketing.sms.txt").write_text("【{{ merchant_name }}】{{ title }}")
    out = R.render("marketing", "zh-CN", merchant(template_dir=tmp_path),
                   sample_variables("marketing", "zh-CN"))
    assert out.sms.endswith("回复TD退订")


def test_merchant_override_wins_file_by_file(tmp_path):
    (tmp_path / "en-US").mkdir()
    (tmp_path / "en-US" / "payment_succeeded.subject.txt").write_text("{{ merchant_name }} got it")
    m = merchant(template_dir=tmp_path)
    out = R.render("payment_succeeded", "en-US", m, sample_variables("payment_succeeded"))
    assert out.subject == "Keyforge got it"
    assert "Amount paid" in out.html  # the rest is the shipped template
    assert R.render("payment_succeeded", "en-US", None,
                    sample_variables("payment_succeeded")).subject != out.subject


@pytest.mark.parametrize("asked, used", [("en-US", "en-US"), ("en-GB", "en-US"), ("en", "en-US"),
                                         ("zh-TW", "zh-CN"), ("fr-FR", "zh-CN")])
def test_locale_fallback(asked, used):
    out = R.render("payment_succeeded", asked, None, sample_variables("payment_succeeded"))
    assert out.locale == used


def test_default_locale_is_configurable():
    out = Renderer(default_locale="en-US").render("payment_succeeded", "fr-FR", None,
                                                  sample_variables("payment_succeeded"))
    assert out.locale == "en-US"


def test_unknown_template():
    with pytest.raises(UnknownTemplate):
        R.render("nope", "zh-CN", None, {})


def test_templates_are_sandboxed(tmp_path):
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "payment_succeeded.subject.txt").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateProblem, match="SecurityError"):
        R.render("payment_succeeded", "zh-CN", merchant(template_dir=tmp_path),
                 sample_variables("payment_succeeded"))


def _broken_dir(tmp_path):
    for loc in LOCALES:
        d = tmp_path / loc
        d.mkdir()
        for suffix in ("subject.txt", "txt", "sms.txt"):
            (d / f"hello.{suffix}").write_text("hi {{ who }}")
        (d / "hello.html").write_text("{% if %}broken")  # syntax error
    (tmp_path / "en-US" / "bye.subject.txt").write_text("only a subject")
    return tmp_path


def test_check_all_lists_every_failure(tmp_path):
    r = Renderer(_broken_dir(tmp_path))
    with pytest.raises(TemplateProblem) as info:
        r.check_all(samples=lambda name, loc: {"who": "x"}, required=[])
    problems = info.value.problems
    assert any("zh-CN/hello.html" in p and "TemplateSyntaxError" in p for p in problems)
    assert any("en-US/hello.html" in p for p in problems)
    assert any("missing" in p and "en-US/bye.html" in p for p in problems)
    assert any("missing" in p and "zh-CN/bye.subject.txt" in p for p in problems)


def test_check_all_requires_every_routed_template(tmp_path):
    r = Renderer(tmp_path / "empty")
    with pytest.raises(TemplateProblem, match="card_key_ready"):
        r.check_all()


def test_check_all_covers_merchant_overrides(tmp_path):
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "card_key_ready.txt").write_text("{{ no_such_variable }}")
    with pytest.raises(TemplateProblem, match="merchant m-1.*no_such_variable"):
        R.check_all(merchants=[merchant(template_dir=tmp_path)])
