"""Card-key link redemption: the page URL, rejections, table housekeeping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams import cardkey, links


@pytest.mark.parametrize("ref, template, url", [
    ("ck_9f2a61", None, "https://shop.example/card-keys/ck_9f2a61"),
    ("ck/1?x=2#y", None, "https://shop.example/card-keys/ck%2F1%3Fx%3D2%23y"),
    ("ck_1", "https://s.test/k?ref={ref}&from=mail", "https://s.test/k?ref=ck_1&from=mail"),
])
def test_page_url(ref, template, url):
    assert links.page_url(ref, template) == url


def test_page_url_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ORDERCAST_CARD_KEY_PAGE_URL", "https://keys.test/{ref}/view")
    assert links.LinkPageSettings().card_key_page_url == "https://keys.test/{ref}/view"
    monkeypatch.setenv("ORDERCAST_CARD_KEY_PAGE_URL", "https://keys.test/view")
    with pytest.raises(ValidationError, match="must contain"):
        links.LinkPageSettings()


def test_each_refusal_has_its_own_code():
    refused = {cls: links.rejection(cls("x")) for cls in
               (cardkey.TokenTampered, cardkey.TokenExpired, cardkey.TokenUsed)}
    assert {cls: (r.status, r.code) for cls, r in refused.items()} == {
        cardkey.TokenTampered: (400, "link_invalid"),
        cardkey.TokenExpired: (410, "link_expired"),
        cardkey.TokenUsed: (410, "link_used"),
    }


def test_redemption_record_carries_no_reference():
    claims = cardkey.Claims("ck_secret_ref", "n-1", "nonce-1", 1_700_000_000)
    record = links.redemption(claims, 3, 1_699_999_000_000)
    assert record == {"at": 1_699_999_000_000, "expires_at": 1_700_000_000, "partition": 3}


def test_expired_nonces_are_forgotten_only_after_the_grace():
    entries = {"old": {"expires_at": 1000, "partition": 0},
               "edge": {"expires_at": 1000 + 50, "partition": 1},
               "live": {"expires_at": 5000, "partition": 2},
               "gone": None}
    assert links.expired_nonces(entries, 1000 + 60, grace_s=30) == ["old"]
    assert sorted(links.expired_nonces(entries, 6000, grace_s=30)) == ["edge", "live", "old"]
