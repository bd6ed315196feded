"""Template preview: HTML pages (served by the worker's web server) and files
(``ordercast templates render``). Everything shown is rendered from sample data
or a JSON file of variables, never from live orders."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from markupsafe import escape

from channels.segments import sms_segments

from .merchants import MerchantConfig
from .render import Renderer, TemplateProblem, UnknownTemplate, sample_variables

_STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
pre{background:#f6f8fa;padding:12px;white-space:pre-wrap}
iframe{width:100%;height:520px;border:1px solid #ddd}
.problem{color:#b00020}.meta{color:#666;font-size:13px}"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def index_html(renderer: Renderer, base: str = "/templates") -> str:
    prefix = escape(base.rstrip("/"))
    items = "".join(f'<li><a href="{prefix}/{quote(name)}">{escape(name)}</a></li>'
                    for name in renderer.list_templates())
    locales = ", ".join(renderer.locales())
    return _page("Templates", f"<h1>Templates</h1><p class=meta>Locales: {escape(locales)}"
                              f"</p><ul>{items}</ul>")


def _locale_section(renderer: Renderer, name: str, locale: str,
                    merchant: MerchantConfig | None) -> str:
    try:
        variables = sample_variables(name, locale)
        if merchant is not None:
            variables["merchant_name"] = merchant.name
        out = renderer.render(name, locale, merchant, variables)
    except TemplateProblem as exc:
        return f"<h2>{escape(locale)}</h2><p class=problem>{escape(str(exc))}</p>"
    used = "" if out.locale == locale else f" (falls back to {out.locale})"
    return (
        f"<h2>{escape(locale)}{escape(used)}</h2>"
        f"<h3>Subject</h3><pre>{escape(out.subject)}</pre>"
        # srcdoc is an attribute: the HTML is escaped once for it; the empty
        # sandbox runs no script and cannot reach this page
        f'<h3>HTML</h3><iframe sandbox="" srcdoc="{escape(out.html)}"></iframe>'
        f"<h3>Text</h3><pre>{escape(out.text)}</pre>"
        f"<h3>SMS</h3><pre>{escape(out.sms)}</pre>"
        f"<p class=meta>{len(out.sms)} characters, {sms_segments(out.sms)} segment(s)</p>"
    )


def template_html(renderer: Renderer, name: str, merchant: MerchantConfig | None = None) -> str:
    """Every locale of one template. Raises UnknownTemplate for a name not shipped."""
    if name not in renderer.list_templates():
        raise UnknownTemplate(f"no template {name!r}")
    who = f" for merchant {merchant.merchant_id}" if merchant else ""
    sections = "".join(_locale_section(renderer, name, loc, merchant)
                       for loc in renderer.locales())
    return _page(name, f"<h1>{escape(name)}{escape(who)}</h1>"
                       f"<p class=meta>Rendered from sample data.</p>{sections}")


def render_to_files(renderer: Renderer, name: str, locale: str, merchant: MerchantConfig | None,
                    data_path: Path | None, out_dir: Path) -> list[Path]:
    """Write ``<name>.<locale>.{subject.txt,html,txt,sms.txt}`` into ``out_dir``.
    Variables come from ``data_path`` (a JSON object) or the built-in samples."""
    if data_path is not None:
        data = json.loads(Path(data_path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{data_path}: expected a JSON object of template variables")
        variables = {str(k): str(v) for k, v in data.items()}
    else:
        variables = sample_variables(name, locale)
        if merchant is not None:  # the sample shop name must not hide the merchant's
            variables["merchant_name"] = merchant.name
    out = renderer.render(name, locale, merchant, variables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, content in (("subject.txt", out.subject + "\n"), ("html", out.html),
                            ("txt", out.text), ("sms.txt", out.sms + "\n")):
        path = out_dir / f"{name}.{out.locale}.{suffix}"
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
