"""Rendering notifications from Jinja2 templates.

Layout: ``<dir>/<locale>/<template>.{subject.txt,html,txt,sms.txt}``; the HTML
parts extend ``<locale>/_layout.html``, which extends the shared ``base.html``.
A merchant's ``template_dir`` is searched first, file by file, so it can
override one part or one layout. A template missing in the asked locale comes
from another locale of the same language, then from the renderer's default
locale (zh-CN, the shops' home market, where every template exists first).

Templates run sandboxed (merchant overrides are not our code), fail on any
undefined variable, and autoescape HTML. Subjects and SMS come out on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .merchants import MerchantConfig

TEMPLATE_DIR = Path(__file__).parent / "templates"
PARTS = ("subject", "html", "text", "sms")
SUFFIX = {"subject": "subject.txt", "html": "html", "text": "txt", "sms": "sms.txt"}
# what each channel shows; card_key_ready's email and in-app parts need ``card_key_url``
PARTS_BY_CHANNEL = {"email": ("subject", "html", "text"), "sms": ("sms",),
                    "inapp": ("subject", "text"), "webhook": ("subject", "text")}
_LOCALE_DIR = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class TemplateProblem(Exception):
    """Templates that do not load or render. Not retriable: fix the template."""

    retriable = False

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class UnknownTemplate(TemplateProblem):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    sms: str
    locale: str = ""  # the locale actually used, after fallback


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, U+2028 ...) and drop control characters."""
    return "".join(ch for ch in " ".join(text.split()) if ch.isprintable())


@cache
def _samples() -> dict:
    return json.loads((TEMPLATE_DIR / "_samples.json").read_text(encoding="utf-8"))


def sample_variables(template: str, locale: str = "zh-CN") -> dict[str, str]:
    """Built-in sample data; a per-locale value is a ``{locale: value}`` map."""
    data = {**_samples()["common"], **_samples()["templates"].get(template, {})}
    return {k: (v.get(locale) or next(iter(v.values())) if isinstance(v, dict) else v)
            for k, v in data.items()}


class Renderer:
    def __init__(self, *template_dirs: Path | str, default_locale: str = "zh-CN",
                 auto_reload: bool = True):
        self.dirs = [Path(d) for d in template_dirs] or [TEMPLATE_DIR]
        self.default_locale = default_locale
        self.auto_reload = auto_reload  # off in workers: no stat() of every template per render
        self._base = FileSystemLoader([str(d) for d in self.dirs])
        self._envs: dict[Path | None, tuple[ImmutableSandboxedEnvironment, frozenset[str]]] = {}
        self._locales: list[str] | None = None

    def _env(self, merchant: MerchantConfig | None) -> tuple[ImmutableSandboxedEnvironment,
                                                               frozenset[str]]:
        key = merchant.template_dir if merchant else None
        if key not in self._envs:
            loader: BaseLoader = self._base
            if key is not None:
                loader = ChoiceLoader([FileSystemLoader(str(key)), self._base])
            env = ImmutableSandboxedEnvironment(
                loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                auto_reload=self.auto_reload,
                autoescape=select_autoescape(enabled_extensions=("html",), default=False,
                                             default_for_string=False))
            self._envs[key] = (env, frozenset(loader.list_templates()))
        return self._envs[key]

    def locales(self) -> list[str]:
        if self._locales is None:  # asked for every message rendered: list the disk once
            self._locales = sorted({p.name for d in self.dirs if d.is_dir()
                                    for p in d.iterdir()
                                    if p.is_dir() and _LOCALE_DIR.match(p.name)})
        return self._locales

    def list_templates(self) -> list[str]:
        names = set()
        longest_first = sorted(SUFFIX.values(), key=len, reverse=True)
        for path in self._env(None)[1]:
            locale, _, file = path.rpartition("/")
            if not _LOCALE_DIR.match(locale) or file.startswith("_"):
                continue
            suffix = next((s for s in longest_first if file.endswith("." + s)), None)
            if suffix:
                names.add(file[: -len(suffix) - 1])
        return sorted(names)

    def resolve_locale(self, template: str, locale: str, merchant: MerchantConfig | None = None
                       ) -> str:
        files = self._env(merchant)[1]
        lang = locale.split("-")[0].lower()
        chain = [locale, *(x for x in self.locales() if x.split("-")[0].lower() == lang),
                 self.default_locale]
        for candidate in chain:
            if f"{candidate}/{template}.subject.txt" in files:
                return candidate
        raise UnknownTemplate(f"no template {template!r} for locale {locale!r}")

    def render(self, template: str, locale: str, merchant: MerchantConfig | None,
               variables: Mapping[str, str], *, parts: Iterable[str] = PARTS) -> Rendered:
        env, _ = self._env(merchant)
        used = self.resolve_locale(template, locale, merchant)
        context = {**({"merchant_name": merchant.name} if merchant else {}), **variables}
        out = dict.fromkeys(PARTS, "")
        for part in parts:
            name = f"{used}/{template}.{SUFFIX[part]}"
            try:
                out[part] = env.get_template(name).render(context)
            except Exception as exc:  # jinja raises many types; all mean a broken template
                raise TemplateProblem(f"{name}: {type(exc).__name__}: {exc}") from None
        out["subject"] = one_line(out["subject"])
        out["sms"] = one_line(out["sms"])
        unsubscribe = variables.get("unsubscribe")
        if unsubscribe and "sms" in parts and unsubscribe not in out["sms"]:
            out["sms"] = f"{out['sms']} {unsubscribe}"  # an override may not drop it
        out["text"] = re.sub(r"\n{3,}", "\n\n", out["text"]).strip() + "\n" if out["text"] else ""
        return Rendered(**out, locale=used)

    def check_all(self, samples: Callable[[str, str], Mapping[str, str]] = sample_variables,
                  merchants: Iterable[MerchantConfig] = (),
                  required: Iterable[str] | None = None) -> None:
        """Render every template, every part, in every locale, for the shipped
        templates and each merchant's overrides; raise one TemplateProblem
        listing every failure."""
        if required is None:
            from .routing.rules import all_templates
            required = all_templates()
        names = sorted(set(self.list_templates()) | set(required))
        problems = []
        if self.default_locale not in self.locales():
            problems.append(f"default locale {self.default_locale} has no template folder; "
                            f"missing {', '.join(names)}")
        for merchant in [None, *(m for m in merchants if m.template_dir)]:
            files = self._env(merchant)[1]
            where = f"merchant {merchant.merchant_id}: " if merchant else ""
            for locale in self.locales():
                for name in names:
                    missing = [f"{locale}/{name}.{s}" for s in SUFFIX.values()
                               if f"{locale}/{name}.{s}" not in files]
                    if missing:
                        problems.append(f"{where}missing {', '.join(missing)}")
                        continue
                    try:
                        self.render(name, locale, merchant, samples(name, locale))
                    except TemplateProblem as exc:
                        problems.extend(where + p for p in exc.problems)
        if problems:
            raise TemplateProblem(problems)
