"""`ordercast templates`: list the shipped templates and render one to files
from sample data or a JSON file of variables, for review before release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from channels.segments import sms_segments

from . import context, preview
from .render import Renderer, TemplateProblem

templates_cli = typer.Typer(no_args_is_help=True, help="Notification templates.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"ordercast: {message}", err=True)
    raise typer.Exit(1)


def native_locales(r: Renderer, name: str) -> list[str]:
    """Locales with their own copy of the template (no fallback)."""
    return [loc for loc in r.locales() if r.resolve_locale(name, loc) == loc]


def check_locale(r: Renderer, locale: str) -> None:
    """A locale we have, or one of its language (en-GB -> en-US); else ValueError."""
    lang = locale.split("-")[0].lower()
    if not any(loc.split("-")[0].lower() == lang for loc in r.locales()):
        raise ValueError(f"no templates for locale {locale!r}; "
                         f"available: {', '.join(r.locales())}")


@templates_cli.command("list")
def list_templates() -> None:
    """Name every template with the locales it exists in."""
    r = Renderer()
    names = r.list_templates()
    width = max(map(len, names), default=0)
    for name in names:
        typer.echo(f"{name:<{width}}  {', '.join(native_locales(r, name))}")


@templates_cli.command("render")
def render(
    name: Annotated[str, typer.Argument(help="Template name (see `ordercast templates list`)")],
    locale: Annotated[str, typer.Option("--locale", "-l", help="e.g. zh-CN, en-US")],
    merchant: Annotated[str | None, typer.Option(
        "--merchant", "-m", help="Merchant id, to use its overrides")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="JSON object of template variables")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the rendered files")] = Path("."),
) -> None:
    """Render one template to subject/html/txt/sms files."""
    r = Renderer()
    try:
        if name not in r.list_templates():
            raise ValueError(f"no template {name!r}; see `ordercast templates list`")
        check_locale(r, locale)
        shop = None
        if merchant:
            merchants = context.merchants()
            if merchant not in merchants:  # merchants[...] answers unknown ids with the default
                raise ValueError(f"no merchant {merchant!r} in the merchants file")
            shop = merchants[merchant]
        if data is not None and not data.is_file():
            raise ValueError(f"no such file: {data}")
        paths = preview.render_to_files(r, name, locale, shop, data, out)
    except json.JSONDecodeError as exc:
        _fail(f"{data}: not valid JSON ({exc.msg} at line {exc.lineno})")
    except (ValueError, TemplateProblem, ValidationError, OSError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    for path in paths:
        typer.echo(str(path))
    subject, sms = (next(p for p in paths if p.name.endswith(suffix))
                    .read_text(encoding="utf-8").strip()
                    for suffix in (".subject.txt", ".sms.txt"))
    typer.echo(f"subject: {subject}")
    typer.echo(f"sms ({len(sms)} chars, {sms_segments(sms)} segment(s)): {sms}")
