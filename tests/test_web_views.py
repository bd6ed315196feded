"""Web views that need no broker: owner routing decisions, link refusals, the
template preview."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from yarl import URL

from streams import cardkey, web
from streams import settings as cfg
from streams.outbox import renderer


class FakeRequest:
    def __init__(self, query: dict | None = None, headers: dict | None = None):
        self.query = query or {}
        self.headers = headers or {}


def run(coro):
    return asyncio.run(coro)


METADATA = {"http://10.0.0.1:6066": {"app-inbox-changelog": [0, 2], "other": [1]},
            "http://10.0.0.2:6066": {"app-inbox-changelog": [1, 3]}}


@pytest.mark.parametrize("partition, owner", [
    (0, "http://10.0.0.1:6066"), (3, "http://10.0.0.2:6066"), (7, None)])
def test_owner_of(partition, owner):
    got = web.owner_of(partition, "app-inbox-changelog", METADATA)
    assert got == (URL(owner) if owner else None)


@pytest.mark.parametrize("found, mine, forwarded, answer", [
    (None, False, False, "unavailable"),
    ((3, URL("http://me:1")), True, False, "handled 3"),
    ((3, URL("http://me:1")), True, True, "handled 3"),
    ((5, URL("http://other:2")), False, False, "forwarded http://other:2"),
    ((5, URL("http://other:2")), False, True, "unavailable"),  # no second hop
])
def test_on_owner(monkeypatch, found, mine, forwarded, answer):
    monkeypatch.setattr(web, "_owner", lambda table, key: found)
    monkeypatch.setattr(web, "_is_me", lambda url: mine)
    monkeypatch.setattr(web, "_unavailable", lambda view, reason: "unavailable")

    async def forward(view, request, owner):
        return f"forwarded {owner}"

    async def handle(partition):
        return f"handled {partition}"

    monkeypatch.setattr(web, "_forward", forward)
    request = FakeRequest(headers={web.FORWARDED: "1"} if forwarded else {})
    assert run(web.on_owner(None, request, None, "key", handle)) == answer


def _view(cls):
    return cls(web.app, web.app.web)


@pytest.mark.parametrize("make_token, status, code", [
    (lambda s: cardkey.mint("ck_hidden_ref", "n-1", s)[:-3] + "AAA", 400, "link_invalid"),
    (lambda s: cardkey.mint("ck_hidden_ref", "n-1", "another-secret"), 400, "link_invalid"),
    (lambda s: "not.a.token", 400, "link_invalid"),
    (lambda s: cardkey.mint("ck_hidden_ref", "n-1", s, ttl_s=60, now=time.time() - 600),
     410, "link_expired"),
])
def test_refused_links_say_why_and_nothing_more(make_token, status, code):
    secret = cfg.worker().link_secret
    resp = run(_view(web.CardKeyLink).get(FakeRequest(), make_token(secret)))
    assert resp.status == status
    assert json.loads(resp.body)["error"] == code
    assert resp.headers["Cache-Control"] == "no-store"
    assert b"ck_hidden_ref" not in resp.body
    assert secret.get_secret_value().encode() not in resp.body


def test_preview_index_lists_every_template():
    resp = run(_view(web.TemplateIndex).get(FakeRequest()))
    assert resp.status == 200 and resp.content_type == "text/html"
    for name in renderer().list_templates():
        assert f'href="/templates/{name}"' in resp.text


def test_preview_template_page_and_unknowns():
    page = _view(web.TemplatePage)
    resp = run(page.get(FakeRequest(), "card_key_ready"))
    assert resp.status == 200
    assert all(f"<h2>{loc}" in resp.text for loc in renderer().locales())
    shop = run(page.get(FakeRequest({"merchant": "m-1002"}), "card_key_ready"))
    assert shop.status == 200 and "Keyforge Games" in shop.text
    assert run(page.get(FakeRequest(), "no_such_template")).status == 404
    unknown = run(page.get(FakeRequest({"merchant": "m-unknown"}), "card_key_ready"))
    assert (unknown.status, json.loads(unknown.body)) == (404, {"error": "unknown_merchant"})


def test_preview_email_page_is_sandboxed_html():
    email = _view(web.TemplateEmail)
    resp = run(email.get(FakeRequest(), "card_key_ready", "en-US"))
    assert resp.status == 200 and resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == "sandbox"
    assert "<html" in resp.text.lower() and "card key" in resp.text.lower()
    assert run(email.get(FakeRequest(), "card_key_ready", "fr-FR")).status == 404
    assert run(email.get(FakeRequest(), "nope", "en-US")).status == 404


@pytest.mark.parametrize(("header", "token", "ok"), [
    (None, None, True),  # no token configured: open, as for local runs
    ("Bearer anything", None, True),
    ("Bearer s3cret", "s3cret", True),
    (None, "s3cret", False),
    ("", "s3cret", False),
    ("s3cret", "s3cret", False),
    ("Bearer s3cre", "s3cret", False),
    ("Bearer s3cret ", "s3cret", False),
    ("bearer s3cret", "s3cret", True),  # the scheme is case-insensitive (RFC 9110)
    ("Basic s3cret", "s3cret", False),
])
def test_bearer_token(header, token, ok):
    assert web.bearer_ok(header, token) is ok
